#!/usr/bin/perl

# Tests of the test harness itself (t/lib/TwTest.pm).  They use only stock
# nginx directives, so they pass with any nginx binary.

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
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_timeout 60s;
        location / { return 200 "ok\n"; }
    }
}
EOF

my $port = $t->port;

# 1. start

ok($t->run, 'nginx started');
my $master = $t->master_pid;
ok($master && kill(0, $master), 'master is alive');
my @workers = $t->worker_pids;
is(scalar @workers, 2, 'two workers') or diag("workers: @workers");

# 2. one request

my $r = $t->http_get('/');
is($r && $r->{status}, 200, 'http_get status');
is($r && $r->{body}, "ok\n", 'http_get body');

# 3. keep-alive: two requests on one connection

{
    my $s = $t->connect;
    my $req = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    # Both requests in one write: the second response must stay buffered
    # for the second read_response.
    ok($t->send_raw($s, $req x 2), 'pipelined requests sent');
    my $r1 = $t->read_response($s);
    my $r2 = $t->read_response($s);
    is($r1 && $r1->{status}, 200, 'keep-alive: first response');
    is($r2 && $r2->{body}, "ok\n", 'keep-alive: second response');

    ok($t->send_raw($s, $req), 'third request sent');
    my $r3 = $t->read_response($s);
    is($r3 && $r3->{status}, 200, 'keep-alive: third response');
    is($r3 && $r3->{headers}{connection}, 'keep-alive',
       'keep-alive: connection kept');
    $t->close($s);
}

# 4. reload

{
    my %old = map { $_ => 1 } $t->worker_pids;
    ok($t->reload, 'reload');
    my @new = $t->worker_pids;
    is(scalar(grep { !$old{$_} } @new), 2, 'reload: two new workers')
        or diag("old: @{[sort keys %old]}, new: @new");
    is($t->master_pid, $master, 'reload: same master');
    my $r = $t->http_get('/');
    is($r && $r->{status}, 200, 'reload: request works');
}

# 5. who closed first, according to the kernel

# the TIME-WAIT sockets of each connection's own ports: one of an
# earlier connection (the reload's request) may come late on a slow
# machine; a new connection takes over any older one of its ports

# (a) Connection: close - nginx closes first
{
    my $s = $t->connect;
    my $cport = $t->local_port($s);
    my %own = (peers => [$cport]);
    my $srv = $t->tw_server(%own);
    my $cli = $t->tw_client(%own);
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: localhost\r\n"
                     . "Connection: close\r\n\r\n");
    my $r = $t->read_response($s);
    is($r && $r->{status}, 200, 'server close: response');
    is($t->wait_close($s), 'eof', 'server close: eof');
    $t->close($s);

    is($t->who_closed($cport), 'server', 'server close: who_closed');
    is($t->wait_tw_server($srv + 1, %own) - $srv, 1,
       'server close: one more server TIME-WAIT');
    is($t->tw_client(%own) - $cli, 0,
       'server close: client TIME-WAIT same');
}

# (b) keep-alive, the client closes first
{
    my $s = $t->connect;
    my $cport = $t->local_port($s);
    my %own = (peers => [$cport]);
    my $srv = $t->tw_server(%own);
    my $cli = $t->tw_client(%own);
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    my $r = $t->read_response($s);
    is($r && $r->{status}, 200, 'client close: response');
    $t->close($s);

    is($t->who_closed($cport), 'client', 'client close: who_closed');
    is($t->wait_tw_client($cli + 1, %own) - $cli, 1,
       'client close: one more client TIME-WAIT');
    is($t->tw_server(%own) - $srv, 0,
       'client close: server TIME-WAIT same');
}

# (c) RST from the client on an idle keep-alive connection
{
    my $s = $t->connect;
    my $cport = $t->local_port($s);
    my %own = (peers => [$cport]);
    my $srv = $t->tw_server(%own);
    my $cli = $t->tw_client(%own);
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    my $r = $t->read_response($s);
    is($r && $r->{status}, 200, 'reset: response');
    ok($t->reset($s), 'reset: RST sent');

    is($t->who_closed($cport), 'none', 'reset: who_closed');
    is($t->tw_server(%own) - $srv, 0, 'reset: server TIME-WAIT same');
    is($t->tw_client(%own) - $cli, 0, 'reset: client TIME-WAIT same');
}

# 6. configuration errors are reported with file:line

$t->conf_error_ok(<<'EOF', qr/unknown directive "no_such_directive"/, 6,
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        no_such_directive on;
    }
}
EOF
    'unknown directive');

# 7. stop

ok($t->stop, 'stop');
ok(!$t->pid_alive($master), 'master gone');

$t->done;
