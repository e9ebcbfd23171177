#!/usr/bin/perl

# TLS closes that only the TLS layer tells apart, the client having sent
# no FIN, so that nginx's comes first each time (TIME-WAIT on the server
# port): a record nginx cannot read on an idle keep-alive connection
# (error_response), a close_notify while nginx discards a request body
# (client_idle, as a client's FIN there), and a close_notify in the
# middle of a request header (client_abort, as a client's FIN there).
# Then the client first, in a fixed order, on an idle connection: its
# close_notify and FIN, its FIN alone (client_idle, TIME-WAIT on the
# client), and an RST (client_idle by client_reset, no TIME-WAIT).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Socket qw(IPPROTO_TCP TCP_CORK);
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'openssl and IO::Socket::SSL are needed'
    unless TwTest::have('openssl') && eval { require IO::Socket::SSL; 1 };

$t->tls_cert;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;

    server {
        listen 127.0.0.1:%%PORT%% ssl;
        client_header_timeout 10s;
        keepalive_timeout 30s;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 3;

sub tls {
    my $s = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 10,
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE())
        or die "TLS connection: " . IO::Socket::SSL::errstr() . "\n";
    return $s;
}

# the response, read through TLS

sub response {
    my ($s) = @_;
    my $b = '';
    my $deadline = time + 10;

    while ($b !~ /\r\n\r\nok\n\z/ && time < $deadline) {
        my $n = sysread($s, $b, 4096, length $b);
        last unless $n;
    }

    return $b;
}

# the socket under TLS, to write raw bytes and to see nginx's close

sub raw {
    my ($s) = @_;

    # a duplicate: the socket is closed, and its FIN or RST sent, once
    # both handles are closed, each closing its own descriptor

    open my $raw, '+<&', fileno($s) or die "raw socket: $!";
    return $raw;
}

sub wait_eof {
    my ($raw) = @_;
    my $v = '';
    vec($v, fileno($raw), 1) = 1;

    for (1 .. 100) {
        select(my $r = $v, undef, undef, 0.1) or next;
        my $n = sysread($raw, my $buf, 4096);
        return 1 if defined $n && $n == 0;
        return 0 unless defined $n;
    }

    return 0;
}

# 1. an application data record nginx cannot decrypt, on an idle
# keep-alive connection

my $c0 = $t->settled;
my @made;

for (1 .. $n) {
    my $s = tls();
    push @made, $s->sockport;
    print $s "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    like(response($s), qr/^HTTP\/1\.1 200/, 'bad record: a first response');

    my $raw = raw($s);
    syswrite($raw, "\x17\x03\x03\x00\x20" . "\0" x 32);
    ok(wait_eof($raw), 'bad record: nginx closes');

    # no close_notify to a closed peer, whose kernel would reset

    $s->close(SSL_no_shutdown => 1);
}

my $c1 = $t->settled;
$t->moved_ok($c0, $c1, { 'error_response/server' => $n },
             "bad record on an idle connection: error_response by server");
is($t->wait_tw_server($n, peers => \@made), $n,
   "kernel: $n TIME-WAIT sockets on the server port");
$t->allow_log(qr/SSL_read\(\) failed/);

# 2. a close_notify, without FIN, while nginx discards a request body

@made = ();

for (1 .. $n) {
    my $s = tls();
    push @made, $s->sockport;
    print $s "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        . "0123456789";
    like(response($s), qr/^HTTP\/1\.1 200/, 'discard: the response');

    $s->stop_SSL(SSL_fast_shutdown => 1);
    my $raw = raw($s);
    ok(wait_eof($raw), 'discard: nginx closes on the close_notify');
    close $raw;
    close $s;
}

my $c2 = $t->settled;
$t->moved_ok($c1, $c2, { 'client_idle/server' => $n },
             'close_notify during a discard: client_idle, nginx first');
is($t->wait_tw_server($n, peers => \@made), $n,
   "kernel: $n more TIME-WAIT sockets on the server port");

# 3. a close_notify in the middle of a request header

@made = ();

for (1 .. $n) {
    my $s = tls();
    push @made, $s->sockport;
    print $s "GET / HTTP/1.1\r\nHost:";
    select undef, undef, undef, 0.1;

    $s->stop_SSL(SSL_fast_shutdown => 1);
    my $raw = raw($s);
    ok(wait_eof($raw), 'partial header: nginx closes on the close_notify');
    close $raw;
    close $s;
}

my $c3 = $t->settled;
$t->moved_ok($c2, $c3, { 'client_abort/server' => $n },
             'close_notify in a request header: client_abort, nginx first');
is($t->wait_tw_server($n, peers => \@made), $n,
   "kernel: $n more TIME-WAIT sockets on the server port");

# 4-6. the client closes an idle keep-alive connection first: with its
# close_notify then its FIN, with its FIN alone, or with an RST; it reads
# until nginx's close (the first two), so that its TIME-WAIT is made

my $c = $c3;

for my $case (['close_notify and FIN', 'client_idle/client', 1, 1],
              ['FIN alone', 'client_idle/client', 0, 1],
              ['RST', 'client_idle/client_reset', 0, 0])
{
    my ($name, $cell, $notify, $fin) = @$case;
    my @ports;

    for (1 .. $n) {
        my $s = tls();
        print $s "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        like(response($s), qr/^HTTP\/1\.1 200/, "$name: the response");

        my $raw = raw($s);
        push @ports, $s->sockport;

        # the close_notify held back, to leave in one segment with the
        # FIN: nginx, answering the close_notify with its own close,
        # could otherwise send its FIN before the client's came in (the
        # kernel sends corked data after 200 ms: a client held up that
        # long may still see nginx first, which the kernel then shows)

        if ($notify) {
            setsockopt($raw, IPPROTO_TCP, TCP_CORK, 1) or die "cork: $!";
            $s->stop_SSL(SSL_fast_shutdown => 1);
        }

        if ($fin) {
            shutdown($raw, 1);
            ok(wait_eof($raw), "$name: nginx closes after the client");
            close $raw;

        } else {
            $t->reset($raw);
        }

        if ($notify) {
            close $s;

        } else {
            $s->close(SSL_no_shutdown => 1);
        }
    }

    my $c1 = $t->settled;
    my %peers = (peers => \@ports);

    # nginx first, after a close_notify that left alone: its TIME-WAIT;
    # each of the n FIN closes makes one, on one side or the other: all
    # of them first, so that a late one is not taken for the other side

    wait_until(sub {
        $t->tw_server(%peers) + $t->tw_client(%peers) >= $n
    }, timeout => 8) if $fin;

    my $first = $fin ? $t->tw_server(%peers) : 0;
    $first = 0 unless $notify;

    $t->moved_ok($c, $c1, { $cell => $n - $first,
                            $first ? ('client_idle/server' => $first) : () },
                 "$name: $cell" . ($first ? " ($first nginx first)" : ''));
    $c = $c1;

    is($t->wait_tw_client($n * $fin - $first, %peers), $n * $fin - $first,
       "$name: kernel: " . ($fin ? $n - $first : 'no')
       . ' TIME-WAIT on the client');
    is($t->tw_server(%peers), $first,
       "$name: kernel: " . ($first || 'none') . ' on the server side');
}

$t->allow_log(qr/SSL_read\(\) failed|peer closed connection/);

$t->done;
