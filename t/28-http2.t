#!/usr/bin/perl

# HTTP/2 connections are counted under one reason, "http2", with the
# closer right: nginx's GOAWAY and FIN when it ends the connection (idle
# timeout, keepalive_requests), the client's FIN when the client does,
# nginx's RST when a stream that timed out had SO_LINGER set.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'curl is needed'
    unless TwTest::have('curl');
plan skip_all => 'curl without HTTP/2'
    unless `curl -V` =~ /\bHTTP2\b/;
plan skip_all => 'openssl is needed'
    unless TwTest::have('openssl');

$t->tls_cert;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 1s;
    client_header_timeout 1s;
    lingering_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%% http2;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%% ssl http2;
        ssl_certificate %%PREFIX%%/cert.pem;
        ssl_certificate_key %%PREFIX%%/key.pem;
        keepalive_requests 2;

        # curl sends its second request only once the first is answered:
        # under memcheck on a busy machine, later than 1s; and the timer
        # of the handshake is client_header_timeout, while a worker's
        # first handshake under memcheck takes up to 2s
        keepalive_timeout 30s;
        client_header_timeout 10s;

        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%% http2;
        keepalive_requests 2;
        keepalive_timeout 30s;
        lingering_timeout 10s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%% http2;
        reset_timedout_connection on;
        location / { return 444; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 3;
my $url = 'http://127.0.0.1:' . $t->port;

sub curl {
    my $h2 = $_[0] =~ /^https/ ? '-k --http2' : '--http2-prior-knowledge';
    my $out = `curl -s --max-time 30 $h2 @_ 2>/dev/null`;
    die "curl @_: $?\n" if $?;
    return $out;
}

$t->case_ok(name => 'HTTP/2, the client closes', n => $n,
            run => sub { curl("$url/") eq "ok\n" or die "no answer\n" },
            expect => { 'http2/client' => $n },
            tw_server => 0, tw_client => $n);

# a client that sends the preface and its settings, then nothing: nginx
# ends the idle connection with GOAWAY, then its FIN (with no stream yet,
# client_header_timeout is the timer)

my $preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    . "\x00\x00\x00\x04\x00\x00\x00\x00\x00";

$t->case_ok(name => 'HTTP/2, idle timeout', n => 1, accepted => $n,
            run => sub {
                my @s = map {
                    my $s = $t->connect;
                    $t->send_raw($s, $preface);
                    $s;
                } 1 .. $n;
                $t->close_all(\@s, expect => 'eof', timeout => 6);
            },
            expect => { 'http2/server' => $n },
            tw_server => $n, tw_client => 0);

# keepalive_requests 2: the second stream on a connection gets GOAWAY,
# and nginx ends the connection once that stream is done (over TLS: the
# curl here cannot reuse a cleartext HTTP/2 connection)

my $url1 = 'https://127.0.0.1:' . $t->port('PORT_1');

# curl usually exits with nginx's GOAWAY and close_notify unread, so its
# kernel answers nginx's FIN with an RST (client_reset, no TIME-WAIT
# anywhere); when it has read them, the TIME-WAIT stays on the server.
# When nginx is slow (under memcheck), the GOAWAY may reach curl before
# its second request, which then goes out on a new connection that curl
# itself closes: each such connection is one more accepted and one more
# client close, with its TIME-WAIT on the client.

{
    my $c0 = $t->settled;
    my %port = (port => $t->port('PORT_1'));
    my $mark = $t->tw_mark;

    for (1 .. $n) {
        curl("$url1/a", "$url1/b") eq "ok\n" x 2 or die "no answers\n";
    }

    my $c1 = $t->settled;
    my %d = map { $_ => $c1->{"http2/$_"} - $c0->{"http2/$_"} }
        qw(server client_reset client);
    my $extra = $c1->{accepted} - $c0->{accepted} - $n;

    ok($extra >= 0 && $extra <= $n,
       "keepalive_requests: $n connections, and $extra more by curl");
    is($d{server} + $d{client_reset}, $n,
       "keepalive_requests: $n ended by nginx (server $d{server},"
       . " client_reset $d{client_reset})");
    is($d{client}, $extra, 'keepalive_requests: curl closed its extra ones');
    $t->moved_ok($c0, $c1, { 'http2/server' => $d{server},
                             'http2/client_reset' => $d{client_reset},
                             'http2/client' => $d{client} },
                 'keepalive_requests: nothing else moved');

    select undef, undef, undef, 0.3;

    # a TLS client's close_notify reaching nginx's socket after close()
    # resets it: a server FIN close may leave no TIME-WAIT, never more
    ok($t->tw_server(%port, since => $mark) <= $d{server},
       'keepalive_requests: kernel: no server TIME-WAIT without a server'
       . ' FIN close');
    is($t->tw_client(%port, since => $mark), $extra,
       'keepalive_requests: kernel: a client TIME-WAIT for each extra one');
}

# keepalive_requests 2 in cleartext, with a client of its own: two
# streams in one go; nginx answers both with GOAWAY after the second,
# then shuts its side down (lingering close).  A client that reads to
# nginx's FIN and closes leaves the TIME-WAIT on the server; one that
# resets once it has seen nginx's FIN leaves none anywhere.

my $port3 = $t->port('PORT_3');

sub h2_get {
    my ($stream) = @_;
    my $block = "\x82\x86\x84\x01\x09localhost";    # GET http / host
    return substr(pack('N', length $block), 1) . "\x01\x05"  # HEADERS, end
        . pack('N', $stream) . $block;
}

my $two = $preface . h2_get(1) . h2_get(3);

for my $how ('close', 'reset') {
    $t->case_ok(name => "HTTP/2, keepalive_requests, the client reads to"
                        . " nginx's FIN and then ${how}s", n => $n,
                port => $port3,
                run => sub {
                    my $s = $t->connect(port => $port3)
                        or die "connect: $t->{last_error}\n";
                    $t->send_raw($s, $two);
                    my $got = $t->wait_close($s, timeout => 10);
                    die "got $got\n" unless $got eq 'eof';
                    $how eq 'close' ? $t->close($s) : $t->reset($s);
                },
                expect => { $how eq 'close' ? 'http2/server'
                                            : 'http2/client_reset' => $n },
                tw_server => $how eq 'close' ? $n : 0, tw_client => 0);
}

# reset_timedout_connection on: a stream's "return 444" sets SO_LINGER
# {1, 0} on the connection's socket, but the connection goes on; when it
# ends idle, nginx's GOAWAY and FIN go first, the client answers with its
# FIN, and close() has nothing left to reset: a server TIME-WAIT

my $drop = $preface
    . "\x00\x00\x14\x01\x05\x00\x00\x00\x01"     # HEADERS, stream 1, end
    . "\x82\x86\x04\x05/drop\x01\x09localhost";     # GET http /drop

$t->case_ok(name => 'HTTP/2, a stream reset, then idle', n => 1,
            accepted => $n, port => $t->port('PORT_2'),
            run => sub {
                my @s = map {
                    my $s = $t->connect(port => $t->port('PORT_2'));
                    $t->send_raw($s, $drop);
                    $s;
                } 1 .. $n;
                $t->close_all(\@s, expect => 'eof', timeout => 6);
            },
            expect => { 'http2/server' => $n },
            tw_server => $n, tw_client => 0);

# the same, with a client that stays silent after nginx's FIN: nginx's
# lingering close runs out (lingering_timeout), and close() on the socket
# with SO_LINGER {1, 0} resets it: server_reset, no TIME-WAIT anywhere.
# The module learns of the linger from the stream that timed out, as the
# connection's own flags say nothing of it.

my @held;

$t->case_ok(name => 'HTTP/2, a stream reset, then a lingering close that'
                    . ' runs out', n => 1,
            accepted => $n, port => $t->port('PORT_2'),
            run => sub {
                @held = map {
                    my $s = $t->connect(port => $t->port('PORT_2'));
                    $t->send_raw($s, $drop);
                    $s;
                } 1 .. $n;
                for my $s (@held) {
                    my $how = $t->wait_close($s, timeout => 6);
                    die "expected eof, got $how\n" unless $how eq 'eof';
                }
            },
            expect => { 'http2/server_reset' => $n },
            tw_server => 0, tw_client => 0);

$t->close($_) for @held;

$t->done;
