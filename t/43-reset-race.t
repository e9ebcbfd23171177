#!/usr/bin/perl

# A reset (POST) while closes are counted, with many tw_key values, whose
# reading makes the reset long: the period it ends and the one it starts
# both have every server's and every value's figures within the totals.
# A reset takes the new baselines of the totals before the groups', as
# a close adds to the totals before its server and its value; the other
# way round, every close counted while the reset read the groups would
# be in a group's new period and in the totals' old one.  A close under
# way in a worker at that moment may still be: one per worker at most.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use TwTest;

my $t = TwTest->new(netns => 1, workers => 2);
$t->need_netns;

my $nkeys = $ENV{TEST_NGINX_VALGRIND} ? 2000 : 8000;

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_key \$http_user_agent;
    tw_key_max 10000;
    tw_zone_size 32m;
    server {
        listen 127.0.0.1:%%PORT%%;

        # 500 pipelined requests in one buffer: no request line moved
        # to a large header buffer (nginx 1.22 computes pointers from
        # NULL there, which UBSan reports)
        client_header_buffer_size 64k;

        location / { return 200 "ok\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; tw_status_reset on; }
    }
}
EOF

$t->run;

my $port = $t->port;
my $stop = $t->prefix . '/stop';

# the values, stored by pipelined requests: 500 on a connection

for my $c (0 .. $nkeys / 500 - 1) {
    my $s = $t->connect;
    my $req = join '', map {
        "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: v-" . ($c * 500 + $_)
        . "\r\n" . ($_ == 499 ? "Connection: close\r\n" : '') . "\r\n"
    } 0 .. 499;
    $t->send_raw($s, $req);
    my $b = '';

    while (1) {
        my $n = sysread($s, $b, 65536, length $b);
        next if !defined $n && $!{EINTR};
        last unless $n;
    }

    $t->close($s);
}

# the last requests of a connection may still be logged as its reader
# gives up: the values are counted until all are in

sub stored {
    my $r = $t->http_get('/tw_status?format=json',
                         port => $t->port('PORT_STATUS'));
    return $r ? scalar(() = $r->{body} =~ /\{"key":/g) : 0;
}

$t->wait_until(sub { stored() >= $nkeys }, timeout => 10);
is(stored(), $nkeys, "$nkeys values stored");

# the figures needed, read from the JSON as nginx writes it: a full
# parse of thousands of values takes seconds

sub figures {
    my ($body) = @_;
    my %f;

    ($f{total}{closed}, $f{total}{requests}) =
        $body =~ /"connections":\{[^}]*"closed":(\d+)[^}]*\},"requests":(\d+)/
        or die "no totals in the status:\n" . substr($body, 0, 500) . "\n";

    while ($body =~ /\{"name":"[^"]*","listen":"[^"]*","time_wait":\d+,
                     "requests":(\d+),"closed":(\d+)/gx)
    {
        $f{servers}{requests} += $1;
        $f{servers}{closed} += $2;
    }

    while ($body =~ /(?:\{"key":"(?:[^"\\]|\\.)*",|"keys_overflow":\{)
                     "requests":(\d+),"closed":(\d+)/gx)
    {
        $f{keys}{requests} += $1;
        $f{keys}{closed} += $2;
    }

    return \%f;
}

sub within {
    my ($r, $what) = @_;

    die "no status response\n" unless $r && $r->{status} == 200;

    my $f = figures($r->{body});
    my @over;

    for my $g ('servers', 'keys') {
        for my $n ('closed', 'requests') {
            my $d = ($f->{$g}{$n} // 0) - $f->{total}{$n};
            push @over, "$g: $n $f->{$g}{$n}, the total $f->{total}{$n}"
                if $d > 2;
            diag("$what: $g $n $d") if $ENV{TW_DEBUG};
        }
    }

    ok(!@over, $what) or diag(join "\n", @over);
}

# rounds of a reset in the middle of closes by two clients, each with
# at most 300 connections a round, of values taken at random

for my $round (1 .. 4) {
    unlink $stop;

    my @kids;
    for my $k (1 .. 2) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            srand($$);
            for (1 .. 300) {
                last if -e $stop;
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port,
                                              Timeout => 10)
                    or next;
                print $s "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: v-"
                    . int(rand $nkeys) . "\r\nConnection: close\r\n\r\n";
                1 while <$s>;
                close $s;
            }
            exit 0;
        }
        push @kids, $pid;
    }

    select undef, undef, undef, 0.05;

    within($t->http_get('/tw_status?format=json', method => 'POST',
                        port => $t->port('PORT_STATUS')),
           "round $round: the period a reset ended");

    select undef, undef, undef, 0.1;

    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;
    waitpid($_, 0) for @kids;

    $t->settled;
    within($t->http_get('/tw_status?format=json&since=reset',
                        port => $t->port('PORT_STATUS')),
           "round $round: the period it started");
}

$t->done;
