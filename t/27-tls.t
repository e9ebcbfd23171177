#!/usr/bin/perl

# TLS: the same rules over HTTPS (nginx sends close_notify, then its FIN),
# handshakes that fail, and TLS preconnects that never send a request.
#
# A TLS client that answers nginx's close_notify with its own (curl does)
# races nginx's close(): if the answer arrives first, close() finds it
# unread and resets (the module counts server_reset, the kernel
# TCPAbortOnClose); if it arrives after, the kernel resets the closed
# socket (the module counts server, as nginx's FIN was first, and the
# kernel TCPAbortOnData instead of a TIME-WAIT).  The tests hold the
# module to the kernel for every connection, whichever way it went.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'openssl and curl are needed'
    unless grep({ -x "$_/openssl" } split /:/, $ENV{PATH})
        && grep({ -x "$_/curl" } split /:/, $ENV{PATH});

my $p = $t->prefix;
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
       . " -keyout $p/key.pem -out $p/cert.pem >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl could not make a certificate');

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        ssl_certificate %%PREFIX%%/cert.pem;
        ssl_certificate_key %%PREFIX%%/key.pem;
        location / { return 200 "ok\n"; }
        location /off { keepalive_timeout 0; return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; }
    }
}
EOF

$t->run;

my $n = 3;
my $url = 'https://127.0.0.1:' . $t->port;

sub curl {
    my (@args) = @_;
    my $out = `curl -sk --max-time 5 @args 2>/dev/null`;
    die "curl @args: $?\n" if $?;
    return $out;
}

# Runs curl n times and holds the module to the kernel: whichever way
# each race went, the closes nginx made (FIN or RST) are exactly the
# server's TIME-WAIT sockets plus the kernel's resets of nginx's sockets,
# and the client's FIN closes are exactly the client's TIME-WAIT sockets.
sub curl_ok {
    my ($name, $reason, @args) = @_;
    my $race = ref $args[0] ? shift(@args)->{race} : 0;
    my $c0 = $t->counts;
    my $tws = $t->tw_server;
    my $twc = $t->tw_client;
    my @abort = map { $t->kernel_counter($_) }
        qw(TcpExtTCPAbortOnData TcpExtTCPAbortOnClose);

    curl(@args) for 1 .. $n;

    my $c1 = wait_until(sub { my $c = $t->counts; $c->{open} == 0 && $c });
    my %d = map { $_ => $c1->{"$reason/$_"} - $c0->{"$reason/$_"} }
        qw(server server_reset client client_reset);

    is($d{server} + $d{server_reset} + $d{client} + $d{client_reset}, $n,
       "$name: $n closes as $reason (server $d{server}, server_reset"
       . " $d{server_reset}, client $d{client})");
    $t->moved_ok($c0, $c1, { map { ("$reason/$_" => $d{$_}) } keys %d },
                 "$name: nothing else moved");
    is($d{client_reset}, 0, "$name: no client reset");

    my $by_nginx = sub {
        my @now = map { $t->kernel_counter($_) }
            qw(TcpExtTCPAbortOnData TcpExtTCPAbortOnClose);
        return $t->tw_server - $tws + $now[0] - $abort[0]
            + $now[1] - $abort[1];
    };
    wait_until(sub { $by_nginx->() >= $d{server} + $d{server_reset} });
    wait_until(sub { $t->tw_client - $twc >= $d{client} });
    select undef, undef, undef, 0.2;

    if ($race) {

        # curl sends close_notify and its FIN back to back; nginx closes
        # as soon as it reads the close_notify, and on loopback the FIN
        # may overtake nginx's close() in the few instructions after the
        # TCP state was read.  The module may then say "server" where the
        # kernel says "client", never the other way round.

        ok($by_nginx->() <= $d{server} + $d{server_reset},
           "$name: kernel: no more server TIME-WAIT than nginx's closes");
        ok($t->tw_client - $twc >= $d{client},
           "$name: kernel: a client TIME-WAIT for each client FIN close");
        is($by_nginx->() + $t->tw_client - $twc, $n,
           "$name: kernel: one TIME-WAIT or reset per connection");
    } else {
        is($by_nginx->(), $d{server} + $d{server_reset},
           "$name: kernel: nginx's closes are server TIME-WAIT or resets");
        is($t->tw_client - $twc, $d{client},
           "$name: kernel: the client's FIN closes are client TIME-WAIT");
    }
    $t->conservation_ok($c1, "$name: accepted == closed + open");
    return \%d;
}

my $d = curl_ok('TLS, Connection: close', 'client_close',
                '-H "Connection: close"', "$url/");
is($d->{client}, 0, 'Connection: close: nginx closes first');

$d = curl_ok('TLS, keepalive_timeout 0', 'keepalive_disabled', "$url/off");
is($d->{client}, 0, 'keepalive_timeout 0: nginx closes first');

curl_ok('TLS, curl closes its keep-alive connection', 'client_idle',
        { race => 1 }, "$url/");

$t->case_ok(name => 'TLS, preconnect with no handshake', n => 1,
            accepted => $n,
            run => sub {
                my @s = map { $t->connect } 1 .. $n;
                for my $s (@s) {
                    my $how = $t->wait_close($s, timeout => 5);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                }
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
