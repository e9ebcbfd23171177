#!/usr/bin/perl

# Multipath TCP ("listen ... multipath", nginx 1.29.7 and later, on a
# kernel with MPTCP): a connection's FINs are those of the MPTCP
# connection, while TCP_INFO on its socket describes only the first
# subflow.  The closer must still be the side whose subflows end in
# TIME-WAIT.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Socket qw(PF_INET SOCK_STREAM pack_sockaddr_in inet_aton);
use TwTest;

use constant IPPROTO_MPTCP => 262;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 1s;
    lingering_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%% multipath;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my ($rc, $out) = $t->nginx_t;
plan skip_all => 'this nginx has no "listen ... multipath" (1.29.7 or later)'
    if $rc != 0 && $out =~ /multipath/;

plan skip_all => 'the kernel has no MPTCP'
    unless socket(my $probe, PF_INET, SOCK_STREAM, IPPROTO_MPTCP);

$t->run;

my $n = 3;

sub mconnect {
    socket(my $s, PF_INET, SOCK_STREAM, IPPROTO_MPTCP)
        or die "socket: $!\n";
    connect($s, pack_sockaddr_in($t->port, inet_aton('127.0.0.1')))
        or die "connect: $!\n";
    return $s;
}

sub get {
    my ($s, $extra) = @_;
    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\n" . ($extra // '')
                     . "\r\n");
    my $r = $t->read_response($s);
    die "no response\n" unless $r && $r->{status} == 200;
}

$t->case_ok(name => 'kept alive, the client closes', n => $n,
            run => sub {
                my $s = mconnect();
                get($s);
                CORE::close($s);
            },
            expect => { 'client_idle/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'Connection: close', n => $n,
            run => sub {
                my $s = mconnect();
                get($s, "Connection: close\r\n");
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                CORE::close($s);
            },
            expect => { 'client_close/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'keepalive_timeout', n => 1, accepted => $n,
            run => sub {
                my @s = map { my $s = mconnect(); get($s); $s } 1 .. $n;
                $t->close_all(\@s, expect => 'eof', timeout => 4);
            },
            expect => { 'keepalive_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

# an RST while idle, which nginx reads before it closes

$t->case_ok(name => 'kept alive, the client resets', n => $n,
            run => sub {
                my $s = mconnect();
                get($s);
                $t->reset($s);
            },
            expect => { 'client_idle/client_reset' => $n },
            tw_server => 0, tw_client => 0);

$t->done;
