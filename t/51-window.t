#!/usr/bin/perl

# TIME_WAIT now is the closes by nginx of the last 60 seconds: those of
# a minute ago leave the estimate, by reason and by server, and the
# newer ones stay.  nginx's monotonic clock alone is moved forward, by a
# preloaded library, so that a minute goes by in a few seconds; the
# samples of the totals that the first close by nginx of a second takes
# are what the estimate is made of, so they are what this checks.  (The
# kernel's own TIME_WAIT sockets do not go by faster: its count is not
# compared here; t/11 and t/45 compare it.)

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
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name two.example;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# the wall clock as it is, the monotonic one forward by $seconds

sub forward {
    my ($seconds) = @_;
    $t->write_file('clock-shift', "0 $seconds\n");
}

forward(0);

$t->run_preloaded('clockshift.so',
                  TW_CLOCK_SHIFT => $t->prefix . '/clock-shift');

sub closes {
    my ($n, $port, $host) = @_;
    $t->request("GET / HTTP/1.1\r\nHost: $host\r\n"
                . "Connection: close\r\n\r\n", port => $t->port($port))
        for 1 .. $n;
    return $t->settled;
}

# two seconds on, so that the closes before and after are of different
# seconds, and each worker has seen its clock moved

sub later { select(undef, undef, undef, 2.2) }

sub estimate_is {
    my ($one, $two, $name) = @_;
    my $st = $t->status;
    my %srv = map { $_->{name} => $_->{time_wait} } @{ $st->{servers} };

    is($st->{time_wait}{estimate}, $one + $two, "$name: the estimate");
    is($st->{time_wait}{reasons}{client_close} // 0, $one + $two,
       "$name: its reason");
    is($srv{'one.example'}, $one, "$name: one.example's");
    is($srv{'two.example'}, $two, "$name: two.example's");
    return $st;
}

my $st = closes(4, 'PORT', 'one.example');
is($st->{'client_close/server'}, 4, '4 closes by nginx');
estimate_is(4, 0, 'at once');
later();

# 30 s on: the first closes are still in the window

forward(30);
later();
estimate_is(4, 0, '30 s on');

closes(3, 'PORT_1', 'two.example');
estimate_is(4, 3, '30 s on, 3 more');
later();

# 61 s after the first closes: they are out, the newer ones still in

forward(61);
later();
estimate_is(0, 3, '61 s on');

# and 61 s after the newer ones

forward(92);
later();
estimate_is(0, 0, '92 s on');

# the counts since start are all there

$st = $t->settled;
is($st->{'client_close/server'}, 7, 'the closes themselves stay counted');

forward(0);
$t->conservation_ok($st);

$t->done;
