#!/usr/bin/perl

# Rare closes: a client's FIN while nginx discards a request body;
# "Expect: 100-continue" that nginx refuses (413) or cannot answer (its
# "100 Continue" fails: the client reset, or the send buffer is full); an
# idle keep-alive connection whose read fails with ETIMEDOUT (TCP
# keep-alive probes unanswered); a client that half-closes while nginx,
# told to ignore client aborts, is still answering (with and without a
# reload); and a 413 that error_page turns into a 200, whose body never
# comes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Socket qw(IPPROTO_TCP SHUT_WR SOL_SOCKET SO_RCVBUF inet_aton
              pack_sockaddr_in);
use Test::More;
use Time::HiRes qw(time);
use TwTest;

my $t = TwTest->new(netns => 1, workers => 1);
$t->need_netns;

$t->write_conf(<<'EOF2');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    lingering_timeout 2s;
    client_body_timeout 1s;
    client_max_body_size 10;
    keepalive_timeout 30s;
    sendfile on;

    server {
        listen 127.0.0.1:%%PORT%% sndbuf=4k;
        root %%PREFIX%%/html;

        location = /ok { client_max_body_size 1m; return 200 "ok\n"; }
        location = /missing { client_max_body_size 1m; }
        location = /upload { }
        location = /masked413 { error_page 413 =200 /x; }
        location = /x { return 200 "x\n"; }
        location /f/ { }
        location = /limited { limit_rate 20k; }

        # proxy_buffering off: the header goes out at once
        location = /slow {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_buffering off;
        }
        location = /slow-ignore {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_buffering off;
            proxy_ignore_client_abort on;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_3%% so_keepalive=1:1:1;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF2

$t->write_file('html/limited', 'l' x 60000);
$t->write_file('html/f/7168', 'f' x 7168);

# an upstream that sends half of its body at once, the rest 1.5 s later
$t->backend(port => $t->port('PORT_2'), handler => sub {
    my ($c) = @_;
    syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n"
             . ('1' x 3000));
    select undef, undef, undef, 1.5;
    syswrite($c, '2' x 3000);
});

$t->allow_log(qr/client intended to send too large body/);
$t->allow_log(qr/Connection reset by peer|Connection timed out/);
$t->allow_log(qr/client prematurely closed connection/);

$t->run;

sub hup {
    my $quits = () = $t->error_log =~ /gracefully shutting down/g;
    kill 'HUP', $t->master_pid or die "HUP: $!\n";
    TwTest::wait_until(sub {
        my $now = () = $t->error_log =~ /gracefully shutting down/g;
        return $now > $quits;
    }, timeout => 10) or die "the old worker did not begin to shut down\n";
}

my $n = 2;

###########################################################################
# 1. the client's FIN while nginx discards a request body: the response
# was complete with keep-alive, nginx reads the FIN as the end of the
# body it discards and closes at once (reasons.md 6.15)

my $part = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    . ('p' x 10);

for my $uri ('/ok', '/missing') {
    $t->case_ok(name => "1: FIN while discarding after $uri", n => $n,
                run => sub {
                    my $s = $t->connect or die "connect: $t->{last_error}\n";
                    $t->send_raw($s, sprintf($part, $uri));
                    my $r = $t->read_response($s) or die "no response\n";
                    select undef, undef, undef, 0.2;
                    $t->half_close($s);
                    my $how = $t->wait_close($s, timeout => 5);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                },
                expect => { 'client_idle/client' => $n },
                tw_server => 0, tw_client => $n);
}

###########################################################################
# 2. Expect: 100-continue

my $expect = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
    . "Expect: 100-continue\r\n\r\n";

# a 413 without a "100 Continue": the client gives up its body and closes
# while nginx waits for it

$t->case_ok(name => '2: Expect, 413, the client closes', n => $n,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, sprintf($expect, '/upload', 100));
                my $r = $t->read_response($s);
                die "no 413\n" unless $r && $r->{status} == 413;
                $t->close($s);
            },
            expect => { 'error_response/client' => $n },
            tw_server => 0, tw_client => $n);

# the same client waiting: the discard times out (lingering_timeout)

$t->case_ok(name => '2: Expect, 413, the client waits', n => $n,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, sprintf($expect, '/upload', 100));
                my $r = $t->read_response($s);
                die "no 413\n" unless $r && $r->{status} == 413;
                my $how = $t->wait_close($s, timeout => 10);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the "100 Continue" fails: the client reset before nginx read its
# request (the worker is stopped meanwhile); nginx logs 500 and closes a
# socket the RST already closed

$t->case_ok(name => '2: Expect, the client reset before 100 Continue',
            n => $n,
            run => sub {
                my ($w) = $t->worker_pids;
                kill 'STOP', $w;
                my $s = $t->connect;
                $t->send_raw($s, sprintf($expect, '/ok', 100)) if $s;
                $t->reset($s) if $s;
                kill 'CONT', $w;
                die "connect: $t->{last_error}\n" unless $s;
            },
            expect => { 'client_abort/client_reset' => $n },
            tw_server => 0, tw_client => 0);

# the "100 Continue" fails: nginx's send buffer (sndbuf=4k) is full of
# the answer to a pipelined request the client does not read yet
# (EAGAIN: "we assume that such small packet should be send
# successfully"); nginx logs 500 and closes, its FIN behind the answer.
# Whether the buffer is still full then depends on when the kernel
# handles the client's ACKs: when nginx's sendfile() stopped short and
# finished later, with room left, the "100 Continue" goes out; such a
# try ends as a keep-alive close by the client (client_idle/client),
# counted as such, and another follows, up to 10.

my $misses = 0;

$t->case_ok(name => '2: Expect, 100 Continue finds the buffer full',
            n => 1,
            run => sub {
                for my $try (1 .. 10) {
                    my $s = IO::Socket::INET->new(Proto => 'tcp')
                        or die "socket: $!\n";
                    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048)
                        or die "$!\n";
                    connect($s, pack_sockaddr_in($t->port,
                                                 inet_aton('127.0.0.1')))
                        or die "connect: $!\n";
                    push @{ $t->{made} }, [$t->port, $s->sockport];
                    $t->send_raw($s, "GET /f/7168 HTTP/1.1\r\nHost: x\r\n\r\n"
                                 . sprintf($expect, '/ok', 5));
                    select undef, undef, undef, 0.3;
                    my $r = $t->read_response($s)
                        or die "no first answer\n";
                    my $r2 = $t->read_response($s, timeout => 2);

                    if (!$r2) {
                        $t->close($s);
                        return;
                    }

                    die "got $r2->{status}, not 100\n"
                        unless $r2->{status} == 100;

                    $misses++;
                    $t->send_raw($s, '12345');
                    my $r3 = $t->read_response($s)
                        or die "no answer after the body\n";
                    select undef, undef, undef, 0.2;
                    $t->half_close($s);
                    my $how = $t->wait_close($s, timeout => 5);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                }

                die "100 Continue sent in 10 tries: not reproduced\n";
            },
            expect => sub {
                return { 'error_response/server' => 1,
                         $misses ? ('client_idle/client' => $misses) : () };
            },
            accepted => sub { 1 + $misses },
            tw_server => 1, tw_client => sub { $misses });

diag("100 Continue with a full buffer: $misses tries with room left")
    if $misses;

###########################################################################
# 3. an idle keep-alive connection whose client goes silent: a TCP MD5
# key on the client's side makes each side drop the other's segments, the
# keep-alive probes of "so_keepalive=1:1:1" go unanswered, and nginx's
# read fails with ETIMEDOUT.  No FIN, no RST, no TIME-WAIT anywhere.

sub md5_silence {
    my ($s, $port) = @_;
    my $sa = pack_sockaddr_in($port, inet_aton('127.0.0.1'));
    my $key = 'k';
    setsockopt($s, IPPROTO_TCP, 14,          # TCP_MD5SIG
               $sa . ("\0" x (128 - length $sa))
               . pack('CCSL', 0, 0, length $key, 0)
               . $key . ("\0" x (80 - length $key)))
        or return 0;
    return 1;
}

my $port3 = $t->port('PORT_3');

SKIP: {
    my $probe = $t->connect(port => $port3);
    my $md5 = $probe && md5_silence($probe, $port3);
    $t->reset($probe) if $probe;
    $t->settled;
    skip "no TCP_MD5SIG: $!", 5 unless $md5;

    $t->case_ok(name => '3: idle, keep-alive probes time out', n => 1,
                port => $port3,
                run => sub {
                    my $s = $t->connect(port => $port3)
                        or die "connect: $t->{last_error}\n";
                    $t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                    $t->read_response($s) or die "no response\n";
                    md5_silence($s, $port3) or die "md5: $!\n";
                    TwTest::wait_until(sub { $t->counts->{open} == 0 },
                                       timeout => 10)
                        or die "not closed\n";
                    like($t->error_log, qr/\(110: Connection timed out\)/,
                         '3: nginx read ETIMEDOUT');
                    $t->reset($s);
                },
                expect => { 'client_idle/client_reset' => 1 },
                tw_server => 0, tw_client => 0);
}

###########################################################################
# 4. the client half-closes after a whole request, while the answer is
# still being sent

sub half_close_during {
    my ($uri, %o) = @_;
    return sub {
        my $s = $t->connect or die "connect: $t->{last_error}\n";
        $t->send_raw($s, "GET $uri HTTP/1.1\r\nHost: x\r\n"
                     . ($o{close} ? "Connection: close\r\n" : '') . "\r\n");
        $t->read_response($s, head => 1) or die "no header\n";
        hup() if $o{reload};
        select undef, undef, undef, 0.2;
        $t->half_close($s);
        my $how = $t->wait_close($s, timeout => 10);
        die "got $how\n" unless $how eq 'eof';
        $t->close($s);
    };
}

# nginx sees the FIN (ngx_http_test_reading, the upstream's check of the
# client): 499, the client's FIN first

$t->case_ok(name => '4: limit_rate, reload, half-close', n => 1,
            accepted => 1,
            run => half_close_during('/limited', reload => 1),
            expect => { 'client_abort/client' => 1 },
            tw_server => 0, tw_client => 1);

$t->case_ok(name => '4: slow upstream, reload, half-close', n => 1,
            accepted => 1,
            run => half_close_during('/slow', reload => 1),
            expect => { 'client_abort/client' => 1 },
            tw_server => 0, tw_client => 1);

# proxy_ignore_client_abort: nginx finishes the answer with the client's
# FIN in (epoll reported it, nobody read it), then closes with a lingering
# close, its FIN second: the TIME-WAIT is the client's.  The reason stays
# nginx's: the reload refused keep-alive; "Connection: close"

$t->case_ok(name => '4: ignore_client_abort, reload, half-close', n => 1,
            accepted => 1,
            run => half_close_during('/slow-ignore', reload => 1),
            expect => { 'shutdown/client' => 1 },
            tw_server => 0, tw_client => 1);

$t->case_ok(name => '4: ignore_client_abort, Connection: close, half-close',
            n => $n,
            run => half_close_during('/slow-ignore', close => 1),
            expect => { 'client_close/client' => $n },
            tw_server => 0, tw_client => $n);

# and with keep-alive, nginx reads the FIN as it waits for the next
# request

$t->case_ok(name => '4: ignore_client_abort, keep-alive, half-close', n => 1,
            run => half_close_during('/slow-ignore'),
            expect => { 'client_idle/client' => 1 },
            tw_server => 0, tw_client => 1);

###########################################################################
# 5. error_page 413 =200: the 413 turned keep-alive off, the 200 goes out
# with "Connection: close", and nginx waits for the body it discards for
# lingering_timeout (2 s; client_body_timeout, 1 s, plays no part): the
# error closes, the timeout only ends the wait, as for a plain 413

my @waited;

$t->case_ok(name => '5: error_page 413 =200, the body never sent', n => $n,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, "POST /masked413 HTTP/1.1\r\nHost: x\r\n"
                                 . "Content-Length: 100000\r\n\r\n");
                my $r = $t->read_response($s);
                die "no 200\n" unless $r && $r->{status} == 200;
                die "keep-alive on\n"
                    unless ($r->{headers}{connection} // '') =~ /close/i;
                my $t0 = time;
                my $how = $t->wait_close($s, timeout => 10);
                push @waited, time - $t0;
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

ok(!grep({ $_ < 1.5 } @waited), '5: the wait is lingering_timeout\'s')
    or diag("waited @waited");

$t->done;
