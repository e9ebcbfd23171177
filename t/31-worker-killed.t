#!/usr/bin/perl

# A worker killed with SIGKILL: the master starts another, the counters
# stay readable and add up, and the connections the dead worker held are
# reported as lost rather than silently dropped.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1, workers => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# the master says so in its log, at the alert level
$t->allow_log(qr/worker process \d+ exited on signal 9/);

$t->run;

$t->http_get('/') for 1 .. 5;

my @s = map { $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", keep => 1) }
    1 .. 4;

my $c0 = wait_until(sub { my $c = $t->counts; $c->{open} == 4 && $c });
ok($c0, 'four connections open');
is($c0->{lost}, 0, 'none lost yet');

my ($worker) = $t->worker_pids;
kill 'KILL', $worker;

ok(wait_until(sub {
    my @w = $t->worker_pids;
    @w == 1 && $w[0] != $worker;
}, timeout => 5), 'the master started a new worker');

$t->close($_) for @s;

my $c1 = $t->settled;
is($c1->{open}, 0, 'nothing open any more');
is($c1->{lost}, 4, 'the 4 connections the dead worker held are lost');
is($c1->{accepted}, $c0->{accepted}, 'accepted kept');
is($c1->{closed}, $c0->{closed}, 'closed kept');
$t->moved_ok($c0, $c1, {}, 'no close invented for them');
$t->conservation_ok($c1, 'accepted == closed + open + lost');

like($t->status_text, qr/^lost: 4 connections of worker processes that died$/m,
     'text: the lost line');
like($t->http_get('/tw_status?format=prometheus',
                  port => $t->port('PORT_STATUS'))->{body},
     qr/^nginx_tw_connections_lost_total 4$/m, 'prometheus: lost');

# the new worker counts as before

$t->http_get('/') for 1 .. 3;
my $c2 = $t->settled;
$t->moved_ok($c1, $c2, { 'client_close/server' => 3 },
             'the new worker counts');
is($c2->{lost}, 4, 'lost stays 4');

$t->done;
