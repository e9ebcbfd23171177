#!/usr/bin/perl

# Counters live in a shared zone: they survive "nginx -s reload", every
# worker of the new generation serves the same figures, and the idle
# connections the old workers close on reload count as "shutdown", with
# nginx's FIN first (TIME-WAIT on the server port).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use JSON::PP;
use IO::Socket::INET;
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
    %%STATUS_SERVER%%
}
EOF

$t->run;

$t->http_get('/') for 1 .. 10;

my $c0 = $t->settled;
is($c0->{accepted}, 10, '10 connections before the reload');
is($c0->{generation}, 0, 'generation 0');

# three idle keep-alive connections held open across the reload

my @idle;
for (1 .. 3) {
    my $s = $t->connect;
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    my $r = $t->read_response($s);
    push @idle, $s if $r && $r->{status} == 200;
}
is(scalar @idle, 3, 'three idle keep-alive connections');

# their own ports: a TIME-WAIT of the connections before may come late
my %own = (peers => [map { $_->sockport } @idle]);
my $tw0 = $t->tw_server(%own);

ok($t->reload, 'reload');

my @closed = map { $t->wait_close($_, timeout => 5) } @idle;
is_deeply(\@closed, ['eof', 'eof', 'eof'],
          'the old workers closed the idle connections');
$t->close($_) for @idle;

is($t->wait_tw_server($tw0 + 3, %own), $tw0 + 3,
   'kernel: 3 new TIME-WAIT sockets on the server port');

my $c1 = $t->settled;

is($c1->{generation}, 1, 'generation 1 after one reload');
is($c1->{accepted}, 13, 'accepted kept across the reload');
$t->moved_ok($c0, $c1, { 'shutdown/server' => 3 },
             'idle connections closed by the reload: shutdown, server FIN');
$t->conservation_ok($c1, 'conservation after the reload');

# the new workers count into the same zone, and agree

$t->http_get('/') for 1 .. 4;

my %seen;
for (1 .. 30) {
    my $r = $t->http_get('/tw_status?format=json',
                         port => $t->port('PORT_STATUS'));
    $seen{ decode_json($r->{body})->{connections}{accepted} }++ if $r;
}
is_deeply([keys %seen], [17], 'every new worker reports the same 17');

ok($t->reload, 'second reload');
my $c2 = $t->counts;
is($c2->{generation}, 2, 'generation 2');
ok($c2->{$_} >= $c1->{$_}, "$_ never goes backwards")
    for qw(accepted closed requests);
is($c2->{accepted}, 17, 'still 17');

# a reload that cannot bind a new address fails after nginx's retries
# (2.5 s): the old workers go on, and the zone is as it was, the reload
# uncounted and no block taken for the server that never started

my $conf = <<'EOF';
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_timeout 60s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name new.example;
        location / { return 200 "new\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $t->port('PORT_1'),
                                  Listen => 1, ReuseAddr => 1)
    or die "cannot hold port " . $t->port('PORT_1') . ": $!";

my $st0 = $t->status;
my @workers = sort $t->worker_pids;
my $log = -s $t->prefix . '/error.log';

$t->write_conf($conf);
$t->allow_log(qr/bind\(\) to 127\.0\.0\.1:\d+ failed|still could not bind/);
kill 'HUP', $t->master_pid;

ok($t->wait_until(sub {
       my $l = $t->error_log;
       length $l > $log && substr($l, $log) =~ /still could not bind/
   }, timeout => 15), 'the reload failed: the new address is taken');

my $st1 = $t->status;
is_deeply([sort $t->worker_pids], \@workers, 'the old workers go on');
is($st1->{generation}, $st0->{generation}, 'the failed reload is not counted');
is($st1->{zone}{free}, $st0->{zone}{free}, 'nor did it take a block');
$t->http_get('/');
is($t->status->{connections}{accepted}, $st0->{connections}{accepted} + 1,
   'the counters go on');

close $busy;

ok($t->reload, 'the same reload once the address is free');
my $st2 = $t->status;
is($st2->{generation}, $st0->{generation} + 1, 'counted once');
is($st2->{zone}{free},
   $st0->{zone}{free} - POSIX::sysconf(POSIX::_SC_PAGESIZE),
   'one block taken, for the new server: a page');
is($t->http_get('/', port => $t->port('PORT_1'))->{body}, "new\n",
   'the new server answers');

$t->done;
