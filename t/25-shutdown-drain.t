#!/usr/bin/perl

# nginx closing connections for its own sake: worker_connections running
# out (drain), the worker_shutdown_timeout of a graceful shutdown, and a
# worker that exits at once (fast shutdown) with connections still open.

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
worker_shutdown_timeout 1s;
events { worker_connections 16; }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 60s;
    client_header_timeout 60s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->allow_log(qr/worker_connections are not enough, reusing connections/);

$t->run;

my $get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

# drain: 20 idle keep-alive connections on a worker with 16 slots; nginx
# reclaims the oldest idle ones to accept new ones

{
    my $c0 = $t->settled;

    my @s;
    for (1 .. 20) {
        my $s = $t->request($get, keep => 1, timeout => 3);
        push @s, $s if $s;
    }
    is(scalar @s, 20, 'all 20 requests answered');

    # the kernel's TIME-WAITs of these connections alone
    my %peers = (peers => [map { $_->sockport } @s]);

    my $drained = grep { $t->wait_close($_, timeout => 0.3) eq 'eof' } @s;
    ok($drained >= 5, "nginx reclaimed $drained idle connections");

    $t->close($_) for @s;

    my $c1 = $t->settled;
    $t->moved_ok($c0, $c1, { 'drain/server' => $drained,
                             'client_idle/client' => 20 - $drained },
                 'reclaimed: drain, server FIN; the rest closed by us');
    $t->wait_tw_server($drained, %peers);
    $t->wait_tw_client(20 - $drained, %peers);
    is($t->tw_server(%peers), $drained,
       'kernel: a TIME-WAIT on the server for each reclaimed one');
    is($t->tw_client(%peers), 20 - $drained,
       'kernel: a TIME-WAIT on the client for each one we closed');
    like($t->error_log, qr/worker_connections are not enough/,
         'nginx said so in its log');
    my ($drain) = grep { $_->{rule} eq 'drain' } @{ $t->status->{advice} };
    like($drain && $drain->{text}, qr/^worker_connections ran out: nginx closed $drained connections to accept new ones; raise worker_connections$/,
         'advice: raise worker_connections');
}

# worker_shutdown_timeout: a reload leaves connections that wait for a
# request in the old worker; the timer closes them after 1s

{
    my $c0 = $t->settled;

    my @s = map { $t->connect } 1 .. 3;
    my %peers = (peers => [map { $_->sockport } @s]);
    wait_until(sub { $t->counts->{open} == 3 });

    ok($t->reload, 'reload');
    my @how = map { $t->wait_close($_, timeout => 5) } @s;
    is_deeply(\@how, [('eof') x 3], 'the old worker closed them');
    $t->close($_) for @s;

    my $c1 = $t->settled;
    $t->moved_ok($c0, $c1, { 'shutdown/server' => 3 },
                 'worker_shutdown_timeout: shutdown, server FIN');
    $t->wait_tw_server(3, %peers);
    is($t->tw_server(%peers), 3, 'kernel: 3 TIME-WAIT on the server');
    is($t->tw_client(%peers), 0, 'kernel: none on the client');
}

# a worker told to terminate exits at once; the kernel closes what it
# held, and the module counts those connections as it exits

{
    my $c0 = $t->settled;

    my @s = map { $t->request($get, keep => 1) } 1 .. 3;
    my %peers = (peers => [map { $_->sockport } @s]);
    my @workers = $t->worker_pids;
    is(scalar @workers, 1, 'one worker');

    kill 'TERM', @workers;

    my @how = map { $t->wait_close($_, timeout => 5) } @s;
    is_deeply(\@how, [('eof') x 3], 'the kernel closed them');
    $t->close($_) for @s;

    ok(wait_until(sub {
        my @w = $t->worker_pids;
        @w == 1 && $w[0] != $workers[0];
    }, timeout => 5), 'the master started a new worker');

    my $c1 = $t->settled;
    $t->moved_ok($c0, $c1, { 'shutdown/server' => 3 },
                 'counted at worker exit: shutdown, server FIN');
    $t->wait_tw_server(3, %peers);
    is($t->tw_server(%peers), 3, 'kernel: 3 TIME-WAIT on the server');
    is($t->tw_client(%peers), 0, 'kernel: none on the client');
}

$t->done;
