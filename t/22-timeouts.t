#!/usr/bin/perl

# Timeouts and "return 444": nginx gives up on the client and closes,
# with a FIN (TIME-WAIT on the server), or with an RST when
# reset_timedout_connection is on (no TIME-WAIT anywhere).

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
    client_header_timeout 1s;
    client_body_timeout 1s;
    send_timeout 1s;
    lingering_timeout 1s;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT_1%%;
        root %%PREFIX%%/html;
        location = /drop { return 444; }
        location = /upload { proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location = /discard {
            client_body_timeout 30s;
            return 200 "ok\n";
        }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        reset_timedout_connection on;
        root %%PREFIX%%/html;
        location = /drop { return 444; }
        location = /upload { proxy_pass http://127.0.0.1:%%PORT_2%%; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { return 200 "backend\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# a response far larger than the socket buffers on both sides
$t->write_file('html/big', 'x' x (48 * 1024 * 1024));

$t->run;

my $n = 3;
my $plain = $t->port;
my $reset = $t->port('PORT_3');

my $partial = "GET / HTTP/1.1\r\nHost: x\r\n";
my $upload = "POST /upload HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 100\r\n\r\n0123456789";

$t->case_ok(name => 'request_header_timeout', n => 1, accepted => $n,
            run => $t->parallel($plain, $partial, 'eof', $n),
            expect => { 'request_header_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'request_header_timeout, reset', n => 1, accepted => $n,
            port => $reset,
            run => $t->parallel($reset, $partial, 'reset', $n),
            expect => { 'request_header_timeout/server_reset' => $n },
            tw_server => 0, tw_client => 0);

$t->case_ok(name => 'body_timeout', n => 1, accepted => $n,
            run => $t->parallel($plain, $upload, 'eof', $n),
            expect => { 'body_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'body_timeout, reset', n => 1, accepted => $n,
            port => $reset,
            run => $t->parallel($reset, $upload, 'reset', $n),
            expect => { 'body_timeout/server_reset' => $n },
            tw_server => 0, tw_client => 0);

# nginx answered at once and discards the rest of the body, which never
# comes: the discard gives up after lingering_timeout (1 s), whatever
# client_body_timeout says (30 s)

$t->case_ok(name => 'discarded body never arrives', n => 1, accepted => $n,
            run => sub {
                my @s = map {
                    my $s = $t->connect;
                    $t->send_raw($s, "POST /discard HTTP/1.1\r\nHost: x\r\n"
                                 . "Content-Length: 100\r\n\r\n01234");
                    $s;
                } 1 .. $n;
                for my $s (@s) {
                    my $r = $t->read_response($s);
                    die "no response\n" unless $r && $r->{status} == 200;
                    my $how = $t->wait_close($s, timeout => 6);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                }
            },
            expect => { 'body_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'closed_by_config (444)', n => $n,
            run => sub {
                my $r = $t->request("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
                die "444 sent a response\n" if $r;
            },
            expect => { 'closed_by_config/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'closed_by_config (444), reset', n => $n,
            port => $reset,
            run => sub {
                my $s = $t->connect(port => $reset);
                $t->send_raw($s, "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'reset';
                $t->close($s);
            },
            expect => { 'closed_by_config/server_reset' => $n },
            tw_server => 0, tw_client => 0);

# a body nginx never reads: it is still in the socket's queue when 444
# closes, and close() with bytes unread sends an RST instead of a FIN

$t->case_ok(name => 'closed_by_config (444), body unread', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "POST /drop HTTP/1.1\r\nHost: x\r\n"
                             . "Content-Length: 32768\r\n\r\n"
                             . ('x' x 32768));
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'reset';
                $t->close($s);
            },
            expect => { 'closed_by_config/server_reset' => $n },
            tw_server => 0, tw_client => 0);

# send_timeout: the client stops reading a large response.  nginx gives
# up after 1s; its FIN waits behind the unsent data, so the TIME-WAIT
# appears on the server once the client has read everything and closed.

sub stalled {
    my ($port) = @_;
    my @s = map {
        my $s = $t->connect(port => $port);
        $t->send_raw($s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        $s;
    } 1 .. $n;
    return @s;
}

$t->case_ok(name => 'send_timeout', n => 1, accepted => $n,
            run => sub {
                my @s = stalled($plain);
                wait_until(sub { $t->counts->{open} == 0 }, timeout => 8)
                    or die "nginx did not give up\n";
                $t->close_all(\@s, expect => 'eof', timeout => 10);
            },
            expect => { 'send_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'send_timeout, reset', n => 1, accepted => $n,
            port => $reset,
            run => sub {
                my @s = stalled($reset);
                wait_until(sub { $t->counts->{open} == 0 }, timeout => 8)
                    or die "nginx did not give up\n";
                $t->close_all(\@s, expect => 'reset', timeout => 10);
            },
            expect => { 'send_timeout/server_reset' => $n },
            tw_server => 0, tw_client => 0);

$t->done;
