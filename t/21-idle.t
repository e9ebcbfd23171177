#!/usr/bin/perl

# Idle connections: between requests (keep-alive) and before the first
# request (preconnects, probes).  nginx closes them on its timers (server
# FIN); clients close them with a FIN (TIME-WAIT on the client) or an RST
# (no TIME-WAIT anywhere).

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
    keepalive_timeout 1s;
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 4;
my $get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

# run the scenario on n connections at once, so the timers run in parallel
sub parallel {
    my ($open, $finish) = @_;
    return sub {
        my @s = map { $open->() } 1 .. $n;
        $finish->($_) for @s;
    };
}

sub served {
    my $s = $t->request($get, keep => 1);
    die "no keep-alive\n" unless $s;
    return $s;
}

sub timed_out {
    my ($s) = @_;
    my $how = $t->wait_close($s, timeout => 5);
    die "nginx did not close: $how\n" unless $how eq 'eof';
    $t->close($s);
}

$t->case_ok(name => 'keepalive_timeout', n => 1, accepted => $n,
            run => parallel(\&served, \&timed_out),
            expect => { 'keepalive_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'client closes an idle connection', n => 1,
            accepted => $n,
            run => parallel(\&served, sub { $t->close($_[0]) }),
            expect => { 'client_idle/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'client resets an idle connection', n => 1,
            accepted => $n,
            run => parallel(\&served, sub { $t->reset($_[0]) }),
            expect => { 'client_idle/client_reset' => $n },
            tw_server => 0, tw_client => 0);

# no request at all

$t->case_ok(name => 'no_request_timeout (preconnect)', n => 1,
            accepted => $n,
            run => parallel(sub { $t->connect }, \&timed_out),
            expect => { 'no_request_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'client leaves before a request', n => 1,
            accepted => $n,
            run => parallel(sub { $t->connect },
                            sub { select undef, undef, undef, 0.05;
                                  $t->close($_[0]) }),
            expect => { 'client_before_request/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'client resets before a request', n => 1,
            accepted => $n,
            run => parallel(sub { $t->connect },
                            sub { select undef, undef, undef, 0.05;
                                  $t->reset($_[0]) }),
            expect => { 'client_before_request/client_reset' => $n },
            tw_server => 0, tw_client => 0);

# still open connections are "open" until they close

my @s = map { $t->connect } 1 .. 3;
my $c = wait_until(sub { my $c = $t->counts; $c->{open} == 3 && $c });
ok($c, 'three connections open while they wait');
$t->conservation_ok($c) if $c;
$t->close($_) for @s;

$t->done;
