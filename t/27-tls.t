#!/usr/bin/perl

# TLS: the same rules over HTTPS (nginx sends close_notify, then its FIN),
# handshakes that fail, and TLS preconnects that never send a request.
#
# A TLS client that answers nginx's close_notify with its own (curl does)
# races nginx's close(): if the answer arrives first, close() finds it
# unread and resets (server_reset); if it arrives after, the kernel
# resets nginx's closed socket, and the first FIN was still nginx's
# (server, with no TIME-WAIT left); and curl itself may reset its side.
# Client and server share this network namespace, so the kernel's reset
# counters mix both sides, and a reset can also end a TIME-WAIT early.
# What holds in every ordering, and is checked: the module never reports
# a client FIN the kernel did not see, nor a server TIME-WAIT that is not
# there, and the kernel has no TIME-WAIT the module cannot explain.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'openssl and curl are needed'
    unless TwTest::have('openssl', 'curl');

$t->tls_cert;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;

    # client_header_timeout runs from the accept through the handshake to
    # the request: a worker's first handshake under memcheck takes up to
    # 2 s, so the server curl talks to waits longer than the 1 s that
    # times out the preconnects on PORT_1
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        client_header_timeout 10s;
        location / { return 200 "ok\n"; }
        location /off { keepalive_timeout 0; return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        client_header_timeout 1s;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 3;
my $url = 'https://127.0.0.1:' . $t->port;

sub curl {
    my (@args) = @_;
    my $out = `curl -sk --max-time 30 @args 2>/dev/null`;
    die "curl @args: $?\n" if $?;
    return $out;
}

sub curl_ok {
    my ($name, $reason, @args) = @_;
    my $c0 = $t->settled;
    my $mark = $t->tw_mark;

    curl(@args) for 1 .. $n;

    my $c1 = $t->settled;
    my %d = map { $_ => $c1->{"$reason/$_"} - $c0->{"$reason/$_"} }
        qw(server server_reset client client_reset);

    is($d{server} + $d{server_reset} + $d{client} + $d{client_reset}, $n,
       "$name: $n closes as $reason (server $d{server}, server_reset"
       . " $d{server_reset}, client $d{client}, client_reset"
       . " $d{client_reset})");
    $t->moved_ok($c0, $c1, { map { ("$reason/$_" => $d{$_}) } keys %d },
                 "$name: nothing else moved");

    $t->wait_tw_client($d{client}, since => $mark);
    select undef, undef, undef, 0.3;

    my ($server, $client) = ($t->tw_server(since => $mark),
                             $t->tw_client(since => $mark));
    ok($server <= $d{server},
       "$name: kernel: $server server TIME-WAIT, not more than the"
       . " $d{server} server FIN closes");
    ok($client >= $d{client} && $client <= $n - $d{server_reset},
       "$name: kernel: $client client TIME-WAIT, one for each of the"
       . " $d{client} client FIN closes at least");
    $t->conservation_ok($c1, "$name: accepted == closed + open");
    return \%d;
}

my $mark = $t->tw_mark;
my $d = curl_ok('TLS, Connection: close', 'client_close',
                '-H "Connection: close"', "$url/");
is($d->{client}, 0, 'Connection: close: no client FIN first');

$d = curl_ok('TLS, keepalive_timeout 0', 'keepalive_disabled', "$url/off");
is($d->{client}, 0, 'keepalive_timeout 0: no client FIN first');
is($t->tw_client(since => $mark), 0, 'kernel: no TIME-WAIT on the client');

# The same two rules with a client that cannot race nginx: it reads the
# response and nginx's close_notify, waits for nginx's FIN, and closes
# without a close_notify of its own: nginx's FIN is first, nothing is
# left unread, and the TIME-WAIT is on the server, every time.

my $have_ssl = eval { require IO::Socket::SSL; 1 };

sub tls_get {
    my ($path, $header) = @_;

    return sub {
        my $s = $t->connect or die "connect: $t->{last_error}\n";

        IO::Socket::SSL->start_SSL($s, Timeout => 10,
            SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE())
            or die "TLS: " . IO::Socket::SSL::errstr() . "\n";

        print $s "GET $path HTTP/1.1\r\nHost: x\r\n$header\r\n";

        # to nginx's close_notify
        my $b = '';
        1 while sysread($s, $b, 4096, length $b);
        die "no answer: $b\n" unless $b =~ m{^HTTP/1\.1 200 .*\r\n\r\nok\n\z}s;

        # to nginx's FIN, on the socket under TLS
        open my $raw, '+<&', fileno($s) or die "raw socket: $!\n";
        my $how = $t->wait_close($raw, timeout => 10);
        die "got $how\n" unless $how eq 'eof';

        close $raw;
        $s->close(SSL_no_shutdown => 1);
    };
}

SKIP: {
    skip 'IO::Socket::SSL is needed', 2 * 5 unless $have_ssl;

    $t->case_ok(name => 'TLS, keepalive_timeout 0, the client closes last',
                n => $n, run => tls_get('/off', ''),
                expect => { 'keepalive_disabled/server' => $n },
                tw_server => $n, tw_client => 0);

    $t->case_ok(name => 'TLS, Connection: close, the client closes last',
                n => $n, run => tls_get('/', "Connection: close\r\n"),
                expect => { 'client_close/server' => $n },
                tw_server => $n, tw_client => 0);
}

# curl sends close_notify and its FIN back to back; nginx closes as soon
# as it reads the close_notify, so on loopback either FIN may go first

curl_ok('TLS, curl closes its keep-alive connection', 'client_idle',
        "$url/");

my $port1 = $t->port('PORT_1');
$t->case_ok(name => 'TLS, preconnect with no handshake', n => 1,
            accepted => $n, port => $port1,
            run => sub {
                my @s = map { $t->connect(port => $port1) } 1 .. $n;
                $t->close_all(\@s, expect => 'eof', timeout => 15);
            },
            expect => { 'no_request_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

# a TLS record that is no ClientHello: the handshake fails, nginx closes

$t->case_ok(name => 'TLS handshake fails', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "\x16\x03\x01\x00\x05hello");
                my $how = $t->wait_close($s, timeout => 5);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'tls_handshake/server' => $n },
            tw_server => $n, tw_client => 0);

# plain HTTP to the HTTPS port: nginx answers 400 (497 in its log)

$t->case_ok(name => 'plain HTTP to the TLS port', n => $n,
            run => sub {
                my $r = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                die "no 400\n" unless $r && $r->{status} == 400;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

$t->done;
