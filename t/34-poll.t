#!/usr/bin/perl

# An event method without del_conn() ("use poll"): the module cannot ask
# the socket for its TCP state before close(), so a c->pool cleanup counts
# each close from nginx's own flags.  The usual closes still come out
# right, and everything is counted once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { use poll; }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /off { keepalive_timeout 0; return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my ($rc, $out) = $t->nginx_t;
plan(skip_all => 'nginx built without the poll module') if $rc != 0
    && $out =~ /invalid event type "poll"/;

$t->run;

my $n = 3;
my $get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

$t->case_ok(name => 'poll: keepalive_timeout 0', n => $n,
            run => sub {
                $t->request("GET /off HTTP/1.1\r\nHost: x\r\n\r\n");
            },
            expect => { 'keepalive_disabled/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'poll: Connection: close', n => $n,
            run => sub {
                $t->request("GET / HTTP/1.1\r\nHost: x\r\n"
                            . "Connection: close\r\n\r\n");
            },
            expect => { 'client_close/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'poll: client closes an idle connection', n => $n,
            run => sub {
                my $s = $t->request($get, keep => 1) or die "no keep-alive\n";
                $t->close($s);
            },
            expect => { 'client_idle/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'poll: keepalive_timeout', n => 1, accepted => $n,
            run => sub {
                my @s = map { $t->request($get, keep => 1) } 1 .. $n;
                for my $s (@s) {
                    my $how = $t->wait_close($s, timeout => 5);
                    die "nginx did not close: $how\n" unless $how eq 'eof';
                    $t->close($s);
                }
            },
            expect => { 'keepalive_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->done;
