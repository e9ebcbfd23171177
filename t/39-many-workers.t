#!/usr/bin/perl

# More worker processes at once than the zone has entries for (256): the
# one left without an entry says so, once, when it starts, and the
# counters still add up.  A reload under load can get there with fewer
# workers, while the old ones finish their connections.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

plan skip_all => '257 workers under memcheck take too long'
    if $ENV{TEST_NGINX_VALGRIND};

my $t = TwTest->new(netns => 1, workers => 257);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $re = qr/\[warn\].*tw: more than 256 worker processes at once/;

ok($t->wait_log($re, timeout => 10), 'the worker without an entry warns');
is(scalar(grep { /$re/ } split /\n/, $t->error_log), 1, 'one of them only');

my $c0 = $t->settled;

$t->http_get('/') for 1 .. 20;

my $c1 = $t->settled;
$t->moved_ok($c0, $c1, { 'client_close/server' => 20 },
             '20 closes counted');
is($c1->{lost}, 0, 'none lost');

$t->done;
