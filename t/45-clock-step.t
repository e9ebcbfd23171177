#!/usr/bin/perl

# A step of the wall clock (an NTP step, a VM's clock set right) moves
# neither TIME_WAIT now nor the uptime: the samples go by nginx's
# monotonic clock, as the kernel's TIME_WAIT timers do.  The clock of
# nginx alone is stepped, by a preloaded library.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->preload_lib('clockshift.so');

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name one.example;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my $shift = $t->prefix . '/clock-shift';

sub step {
    my ($seconds) = @_;
    $t->write_file('clock-shift', "$seconds\n");
}

step(0);

$t->run_preloaded('clockshift.so', TW_CLOCK_SHIFT => $shift);

sub closes {
    my ($n) = @_;
    $t->request("GET / HTTP/1.1\r\nHost: one.example\r\n"
                . "Connection: close\r\n\r\n") for 1 .. $n;
    return $t->settled;
}

sub uptime {
    my ($text) = $t->status_text =~ /^uptime: (-?\d+) s/m;
    return $text;
}

sub estimate_ok {
    my ($n, $name) = @_;
    my $st = $t->status;
    my ($srv) = grep { $_->{name} eq 'one.example' } @{ $st->{servers} };
    is($st->{time_wait}{estimate}, $n, "$name: the estimate");
    is($srv->{time_wait}, $n, "$name: the server's");
    is($t->wait_tw_server($n), $n, "$name: the kernel's TIME-WAIT");
    return $st;
}

my $c0 = closes(5);
is($c0->{'client_close/server'}, 5, '5 closes by nginx');
my $st = estimate_ok(5, 'before the step');
my $real = $st->{current_time};

# the wall clock back by 320 s: 5 turns of the ring, each close of the
# next seconds would land in a slot stamped in the future

step(-320);
$st = estimate_ok(5, 'clock back 320 s');
cmp_ok(abs($st->{current_time} - ($real - 320)), '<=', 5,
       'nginx sees its clock 320 s back');

closes(5);
estimate_ok(10, 'closes after the step back');

my $up = uptime();
ok(defined $up && $up >= 0 && $up < 60, 'uptime: not negative')
    or diag("uptime $up");

# and forward by 320 s, past the 60 s window

step(320);
$st = estimate_ok(10, 'clock forward 320 s');
cmp_ok(abs($st->{current_time} - ($real + 320)), '<=', 10,
       'nginx sees its clock 320 s ahead');

closes(3);
estimate_ok(13, 'closes after the step forward');

$up = uptime();
ok(defined $up && $up >= 0 && $up < 60, 'uptime: not 320 s more')
    or diag("uptime $up");

step(0);
$t->conservation_ok($t->settled);

$t->done;
