#!/usr/bin/perl

# A worker that dies holding the zone's mutex while the master reloads:
# the master reaps nothing during a reload, so the dead worker stays a
# zombie, whose pid still looks alive, and nginx's own unlock of a dead
# process's mutexes waits for the reap.  The master, which takes the
# mutex to give the new configuration's servers their blocks, must free
# it itself, or it waits for ever, and with it every worker that wants
# the mutex.  A preloaded library holds the worker at a point where it
# holds the mutex: the error logged when new tw_key values no longer fit.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan(skip_all => 'a zombie is told by /proc, on Linux') unless $^O eq 'linux';

$t->preload_lib('probehold.so');

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_zone_size 128k;
    tw_key $http_x_client;
    tw_key_max 10000;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my $hold = $t->prefix . '/hold';

$t->run_preloaded('probehold.so', TW_PROBE_HOLD => $hold);

sub keyed {
    my ($value, %o) = @_;
    my $s = $t->connect;
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\nX-Client: $value\r\n"
                 . "Connection: close\r\n\r\n");
    my $r = $t->read_response($s, timeout => $o{timeout} // 10);
    $t->close($s);
    return $r;
}

# new values until one does not fit: its worker logs that with the mutex
# held, and is held there

$t->write_file('hold.arm-full', '');

# a request left without an answer is the held one: no other is sent,
# so that no other worker waits for the mutex, and the master alone can
# free it

my $i = 0;
until (-e "$hold.held" || $i >= 2000) {
    $i++;
    keyed("value-$i", timeout => 0.5)
        or TwTest::wait_until(sub { -e "$hold.held" }, timeout => 10);
}

my $held = TwTest::wait_until(sub {
    my $pid = $t->read_file('hold.held') // '';
    return $pid =~ /^(\d+)$/m ? $1 : undef;
}, timeout => 5);

ok($held, "the zone is full after $i values: a worker holds the mutex")
    or BAIL_OUT('no worker was held');

my $master = $t->master_pid;
my %old = map { $_ => 1 } $t->worker_pids(all => 1);

# the reload starts, and the holder dies once the master has begun it
# (it then takes no signal until it is done, SIGCHLD included)

my $logged = () = $t->error_log =~ /reconfiguring/g;
kill 'HUP', $master;
ok(TwTest::wait_until(sub {
       (() = $t->error_log =~ /reconfiguring/g) > $logged
   }, timeout => 10), 'the master reloads');
select undef, undef, undef, 0.2;
kill 'KILL', $held;

my $reloaded = TwTest::wait_until(sub {
    my @new = grep { !$old{$_} } $t->worker_pids;
    return @new >= 2 && !grep { $old{$_} } $t->worker_pids(all => 1);
}, timeout => 15);

ok($reloaded, 'the reload is done: new workers, the old ones gone');
like($t->error_log,
     qr/\[alert\] $master#\d+: tw zone mutex was held by process $held,/,
     'the master frees the mutex of the dead worker, and logs it');

my $r = keyed('after-the-reload', timeout => 5);
ok($r && $r->{status} == 200, 'a new value is served after it');

my $c = $t->settled;
$t->conservation_ok($c, 'accepted = closed + open + lost');
cmp_ok($c->{lost}, '>=', 1, "the held request's connection is lost");

$t->allow_log(qr/tw zone is full|ngx_slab_alloc\(\) failed|exited on signal 9|tw zone mutex was held/);

$t->done;
