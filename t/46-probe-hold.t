#!/usr/bin/perl

# An RST that lands after nginx's last read of a connection and before its
# close(): nginx never sees it, and the kernel alone can tell it from the
# client's FIN.  Over TLS the module cannot peek (kernel TLS would read
# through the record layer), so it asks the socket for its error.  No
# client can place an RST there on purpose: a preloaded library holds
# nginx at the module's look at the socket, until the kernel shows it
# closed, while the client resets, or sends its FIN, in that window.
#
# The close is a lingering close that lingering_timeout ends: nginx has
# sent its close_notify and FIN, so either way the socket is closed when
# nginx looks; only the pending error says which.  Then an RST held in
# before the lingering close begins, whose close_notify write takes the
# RST's error: OpenSSL's pending write says that no FIN left.  Last, a
# close_notify that cannot be written until nginx gives up on it: OpenSSL's
# write is pending as well, yet nginx's FIN left.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use Test::More;
use TwTest;

# one worker: the close of a connection held before its close_notify
# writes the alert again, and must be done before the next is armed

my $t = TwTest->new(netns => 1, workers => 1);
$t->need_netns;

plan skip_all => 'openssl and IO::Socket::SSL are needed'
    unless TwTest::have('openssl') && eval { require IO::Socket::SSL; 1 };

$t->preload_lib('probehold.so');

$t->tls_cert;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;
    lingering_timeout 1s;

    server {
        listen 127.0.0.1:%%PORT%% ssl;
        location = /plain { return 200 "ok\n"; }
        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { return 200 "early\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

my $hold = $t->prefix . '/hold';

$t->run_preloaded('probehold.so', TW_PROBE_HOLD => $hold);

my $n = 3;

sub tls {
    my $s = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 10,
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE())
        or die "TLS connection: " . IO::Socket::SSL::errstr() . "\n";
    return $s;
}

# the response, read through TLS until its body

sub response {
    my ($s, $body) = @_;
    my $b = '';
    my $deadline = time + 10;

    while ($b !~ /\r\n\r\n\Q$body\E\z/ && time < $deadline) {
        my $got = sysread($s, $b, 4096, length $b);
        last unless $got;
    }

    return $b;
}

# a request whose answer comes before its body: nginx answers, shuts its
# side (close_notify, then FIN) and lingers on the rest of the body

sub early_answer {
    my $s = tls();

    print $s "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        . ('p' x 10);

    like(response($s, "early\n"), qr/^HTTP\/1\.1 200/, 'the early answer');

    # the socket under TLS, to send the FIN or RST on (a duplicate: the
    # socket goes once both handles are closed)

    open my $raw, '+<&', fileno($s) or die "raw socket: $!";
    return ($s, $raw);
}

for my $case (['RST', 'lingering/client_reset', 0],
              ['FIN', 'lingering/server', 1])
{
    my ($name, $cell, $fin) = @$case;
    my $c0 = $t->settled;
    my @ports;

    for (1 .. $n) {
        unlink "$hold.held";
        $t->write_file('hold.arm', '');

        my ($s, $raw) = early_answer();
        push @ports, $s->sockport;

        ok(TwTest::wait_until(sub { -e "$hold.held" }, timeout => 8),
           "$name: nginx is held before close()");

        if ($fin) {
            shutdown($raw, 1);
            close $raw;

        } else {
            $t->reset($raw);
        }

        $s->close(SSL_no_shutdown => 1);
    }

    my $c1 = $t->settled;
    my %peers = (peers => \@ports);

    $t->moved_ok($c0, $c1, { $cell => $n }, "$name in the window: $cell");

    is($t->wait_tw_server($n * $fin, %peers), $n * $fin,
       "$name: kernel: " . ($fin ? $n : 'no') . ' TIME-WAIT on the server');
    is($t->tw_client(%peers), 0, "$name: kernel: none on the client");
}

# An RST just before nginx's lingering close: the close_notify that
# begins it fails on the reset socket, and takes the RST's error, and the
# shutdown() that follows fails too.  nginx sent no FIN; OpenSSL still
# waits to write its alert.  A request with "Connection: close" and a
# byte after it goes through the lingering close.

{
    my $c0 = $t->settled;
    my @ports;

    for (1 .. $n) {
        unlink "$hold.held";

        my $s = tls();
        push @ports, $s->sockport;

        $t->write_file('hold.arm-alert', '');

        print $s "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            . "\r\nX";

        like(response($s, "ok\n"), qr/^HTTP\/1\.1 200/,
             'RST before the close_notify: answer');
        ok(TwTest::wait_until(sub { -e "$hold.held" }, timeout => 8),
           'RST before the close_notify: nginx is held before writing it');

        open my $raw, '+<&', fileno($s) or die "raw socket: $!";
        $t->reset($raw);
        $s->close(SSL_no_shutdown => 1);
    }

    my $c1 = $t->settled;
    my %peers = (peers => \@ports);

    $t->moved_ok($c0, $c1, { 'client_close/client_reset' => $n },
                 'RST before the close_notify: client_close/client_reset');
    is($t->tw_server(%peers), 0,
       'RST before the close_notify: kernel: no TIME-WAIT on the server');
    is($t->tw_client(%peers), 0,
       'RST before the close_notify: kernel: none on the client');
}

# The same close_notify, but its write finds the socket's buffer full
# (EAGAIN) for as long as nginx's shutdown waits: after 3 s nginx gives
# up, ends the shutdown quietly, writing nothing, and shuts its side.
# The FIN is nginx's, though OpenSSL still waits to write its alert: a
# quiet shutdown is no sign of a reset.  The client reads up to nginx's
# FIN, then closes.

{
    my $c0 = $t->settled;
    my (@ports, @raws);

    $t->write_file('hold.arm-again', '');

    for (1 .. $n) {
        unlink "$hold.held";

        my $s = tls();
        push @ports, $s->sockport;

        print $s "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            . "\r\nX";

        like(response($s, "ok\n"), qr/^HTTP\/1\.1 200/,
             'close_notify delayed: answer');
        ok(TwTest::wait_until(sub { -e "$hold.held" }, timeout => 8),
           'close_notify delayed: its write failed');

        open my $raw, '+<&', fileno($s) or die "raw socket: $!";
        $s->close(SSL_no_shutdown => 1);
        push @raws, $raw;
    }

    for my $raw (@raws) {
        my $eof = IO::Select->new($raw)->can_read(10)
                  && sysread($raw, my $b, 4096) == 0;

        ok($eof, 'close_notify delayed: nginx shuts its side, with no alert');
        close $raw;
    }

    unlink "$hold.arm-again";

    my $c1 = $t->settled;
    my %peers = (peers => \@ports);

    $t->moved_ok($c0, $c1, { 'client_close/server' => $n },
                 'close_notify delayed: client_close/server');
    is($t->wait_tw_server($n, %peers), $n,
       "close_notify delayed: kernel: $n TIME-WAIT on the server");
    is($t->tw_client(%peers), 0,
       'close_notify delayed: kernel: none on the client');
}

ok(!-e "$hold.arm" && !-e "$hold.arm-alert", 'every hold was taken');

$t->allow_log(qr/shutdown\(\) failed|SSL_shutdown\(\) failed/);

$t->done;
