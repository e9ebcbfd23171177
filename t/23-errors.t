#!/usr/bin/perl

# Error responses after which nginx never keeps a connection alive (400,
# 413, 414, 494, 500, 501) and responses delimited by the close: nginx
# closes first, counted as error_response.  Only nginx's own error
# responses: the same statuses passed on from an upstream server, or
# answered with a text by "return", keep the connection, and a close
# after them has the reason of the close.

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
    large_client_header_buffers 2 1k;
    client_max_body_size 10;
    lingering_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location / { return 200 "ok\n"; }
        location = /fail { return 500; }
        location = /missing { return 404; }
        location = /ssi.html { ssi on; chunked_transfer_encoding off; }
        location = /upload { proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location = /short { proxy_pass http://127.0.0.1:%%PORT_3%%; }
        location = /masked { error_page 500 =200 /ok; return 500; }
        location = /ok { return 200 "ok\n"; }
        location = /file { }
        location /ep/ {
            client_max_body_size 1m;
            error_page 404 =500 /err.html;
        }
        location = /err.html { client_max_body_size 1m; }
        location = /text500 { return 500 "error text\n"; }
        location /up/ { proxy_pass http://127.0.0.1:%%PORT_2%%/; }
        location /two/ {
            keepalive_requests 2;
            proxy_pass http://127.0.0.1:%%PORT_2%%/;
            location = /two/text500 { return 500 "error text\n"; }
        }
    }
    server {
        listen 127.0.0.1:%%PORT_4%% proxy_protocol;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { return 200 "backend\n"; }
        location = /500 { return 500; }
        location = /400 { return 400; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->write_file('html/ssi.html', "<p>hello</p>\n");
$t->write_file('html/file', "file\n");
$t->write_file('html/err.html', "error\n");

# a backend that promises 100 bytes, sends 10 and closes
$t->backend(port => $t->port('PORT_3'), handler => sub {
    my ($c) = @_;
    syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
             . "0123456789");
});

$t->run;

my $n = 3;

sub answered {
    my ($raw, $status) = @_;
    return sub {
        my $r = $t->request($raw);
        die "no response\n" unless $r;
        die "status $r->{status}, expected $status\n"
            unless $r->{status} == $status;
    };
}

my %cases = (
    '400 bad request line' =>
        ["GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n", 400],
    '400 no Host' => ["GET / HTTP/1.1\r\n\r\n", 400],
    '414 URI too long' =>
        ["GET /" . ('a' x 2000) . " HTTP/1.1\r\nHost: x\r\n\r\n", 414],
    '494 header too large' =>
        ["GET / HTTP/1.1\r\nHost: x\r\nX-Big: " . ('b' x 2000)
         . "\r\n\r\n", 400],
    '500' => ["GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", 500],
    '501 unknown transfer coding' =>
        ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
         501],
);

for my $name (sort keys %cases) {
    my ($raw, $status) = @{ $cases{$name} };
    $t->case_ok(name => $name, n => $n, run => answered($raw, $status),
                expect => { 'error_response/server' => $n },
                tw_server => $n, tw_client => 0);
}

# 413 closes through lingering close: nginx shuts its side first and
# reads what the client still sends

$t->case_ok(name => '413 body too large', n => $n,
            run => answered("POST /upload HTTP/1.1\r\nHost: x\r\n"
                            . "Content-Length: 100\r\n\r\n" . ('z' x 100),
                            413),
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# a 413 whose body never comes: nginx answers, discards the body that
# does not come, and closes when the discard times out (lingering_timeout,
# 1 s): the 413 closed the connection, the timeout only ended the wait

$t->case_ok(name => '413, the body never sent', n => $n,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, "POST /upload HTTP/1.1\r\nHost: x\r\n"
                                 . "Content-Length: 100000\r\n\r\n");
                my $r = $t->read_response($s);
                die "no 413\n" unless $r && $r->{status} == 413;
                my $how = $t->wait_close($s, timeout => 10);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the same wait for a body after a 500 that error_page made of a 404:
# nginx kept keep-alive on (a 404 does not turn it off), so the discard's
# timeout is what closes

$t->case_ok(name => 'error_page 404 =500, the body never sent', n => $n,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, "POST /ep/missing HTTP/1.1\r\nHost: x\r\n"
                                 . "Content-Length: 100000\r\n\r\n");
                my $r = $t->read_response($s);
                die "no 500: " . ($r ? $r->{raw} : $t->{last_error}) . "\n"
                    unless $r && $r->{status} == 500;
                die "keep-alive off\n"
                    if ($r->{headers}{connection} // '') =~ /close/i;
                my $how = $t->wait_close($s, timeout => 10);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'body_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

# a precondition that fails (If-Match): nginx sends its 412 with
# "Connection: keep-alive", then ends the request as an error and closes

$t->case_ok(name => '412 from If-Match', n => $n,
            run => answered("GET /file HTTP/1.1\r\nHost: x\r\n"
                            . "If-Match: \"other\"\r\n\r\n", 412),
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# a 404 keeps the connection: the client closes it later

$t->case_ok(name => '404 keeps the connection', n => $n,
            run => sub {
                my $s = $t->request("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
                                    keep => 1);
                $t->close($s);
            },
            expect => { 'client_idle/client' => $n },
            tw_server => 0, tw_client => $n);

# a response without a length to an HTTP/1.1 client that may not get
# chunked encoding: only the close can end it

$t->case_ok(name => 'response delimited by close', n => $n,
            run => sub {
                my $r = $t->request("GET /ssi.html HTTP/1.1\r\nHost: x\r\n\r\n");
                die "no response\n" unless $r && $r->{status} == 200;
                die "has a length\n"
                    if defined $r->{headers}{'content-length'};
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the upstream fails after the response header went out: nginx can only
# cut the response short by closing

$t->case_ok(name => 'upstream failed mid-response', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# error_page turns a 500 into a 200, but the 500 had already ruled out
# keep-alive

$t->case_ok(name => 'error_page over a 500', n => $n,
            run => answered("GET /masked HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the statuses of an upstream server are passed on with keep-alive: the
# client's "Connection: close", or HTTP/1.0, is why nginx closes

$t->case_ok(name => 'upstream 500, Connection: close', n => $n,
            run => answered("GET /up/500 HTTP/1.1\r\nHost: x\r\n"
                            . "Connection: close\r\n\r\n", 500),
            expect => { 'client_close/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'upstream 400, HTTP/1.0', n => $n,
            run => answered("GET /up/400 HTTP/1.0\r\n\r\n", 400),
            expect => { 'http10/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'return 500 with a text, Connection: close', n => $n,
            run => answered("GET /text500 HTTP/1.1\r\nHost: x\r\n"
                            . "Connection: close\r\n\r\n", 500),
            expect => { 'client_close/server' => $n },
            tw_server => $n, tw_client => 0);

# and they would have kept the connection: the second request of a
# connection that keepalive_requests allows two is why nginx closes

for my $uri ('/two/500', '/two/text500') {
    $t->case_ok(name => "$uri, the last of keepalive_requests", n => $n,
                run => sub {
                    my $s = $t->connect or die "connect: $t->{last_error}\n";
                    for my $path ('/two/', $uri) {
                        $t->send_raw($s, "GET $path HTTP/1.1\r\nHost: x\r\n"
                                         . "\r\n");
                        my $r = $t->read_response($s);
                        die "no response to $path\n" unless $r;
                    }
                    my $how = $t->wait_close($s);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                },
                expect => { 'keepalive_requests/server' => $n },
                tw_server => $n, tw_client => 0);
}

# nginx's own 500 with "Connection: close": both rules apply, the status
# comes first

$t->case_ok(name => 'nginx\'s 500, Connection: close', n => $n,
            run => answered("GET /fail HTTP/1.1\r\nHost: x\r\n"
                            . "Connection: close\r\n\r\n", 500),
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# a PROXY protocol header nginx cannot parse: nginx closes before any
# request, with nothing sent but its FIN (the error log: "broken header")

my $port4 = $t->port('PORT_4');

$t->case_ok(name => 'a broken PROXY protocol header', n => $n,
            port => $port4,
            run => sub {
                my $s = $t->connect(port => $port4)
                    or die "connect: $t->{last_error}\n";
                $t->send_raw($s, "PROXY JUNK\r\nGET / HTTP/1.1\r\n"
                                 . "Host: x\r\n\r\n");
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);
$t->allow_log(qr/broken header/);

$t->done;
