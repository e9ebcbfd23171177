#!/usr/bin/perl

# The keep-alive rules: each makes nginx answer with "Connection: close"
# and close first, so each close is counted under its rule with nginx's
# FIN first, and the kernel shows one TIME-WAIT per connection on the
# server's port and none on the client's side.

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
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /off { keepalive_timeout 0; return 200 "ok\n"; }
        location /three { keepalive_requests 3; return 200 "ok\n"; }
        location /time { keepalive_time 1s; return 200 "ok\n"; }
        location /msie { keepalive_disable msie6; return 200 "ok\n"; }
        location /safari { keepalive_disable safari; return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 5;

sub get {
    my ($path, @headers) = @_;
    return "GET $path HTTP/1.1\r\nHost: x\r\n"
        . join('', map { "$_\r\n" } @headers) . "\r\n";
}

# one connection, one request that nginx answers with "Connection: close"
sub closes {
    my ($raw) = @_;
    return sub {
        my $r = $t->request($raw);
        die "no response\n" unless $r && $r->{status} == 200;
        die "no Connection: close\n"
            unless ($r->{headers}{connection} // '') eq 'close';
    };
}

$t->case_ok(name => 'keepalive_disabled', n => $n,
            run => closes(get('/off')),
            expect => { 'keepalive_disabled/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'client_close', n => $n,
            run => closes(get('/', 'Connection: close')),
            expect => { 'client_close/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'http10', n => $n,
            run => closes("GET / HTTP/1.0\r\n\r\n"),
            expect => { 'http10/server' => $n },
            tw_server => $n, tw_client => 0);

# HTTP/1.0 that asks for keep-alive is not closed by the rule

$t->case_ok(name => 'http10 keep-alive, client closes', n => 2,
            run => sub {
                my $s = $t->request("GET / HTTP/1.0\r\n"
                                    . "Connection: keep-alive\r\n\r\n",
                                    keep => 1);
                $t->close($s);
            },
            expect => { 'client_idle/client' => 2 },
            tw_server => 0, tw_client => 2);

$t->case_ok(name => 'keepalive_disable msie6', n => $n,
            run => closes("POST /msie HTTP/1.1\r\nHost: x\r\n"
                          . "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0;"
                          . " Windows NT 5.1)\r\n"
                          . "Content-Length: 0\r\n\r\n"),
            expect => { 'keepalive_disable_browser/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'keepalive_disable safari', n => $n,
            run => closes(get('/safari', 'User-Agent: Mozilla/5.0'
                              . ' (Macintosh; Intel Mac OS X 10_15_7)'
                              . ' AppleWebKit/605.1.15 (KHTML, like Gecko)'
                              . ' Version/16.1 Safari/605.1.15')),
            expect => { 'keepalive_disable_browser/server' => $n },
            tw_server => $n, tw_client => 0);

# keepalive_requests 3: the third request on a connection closes it

$t->case_ok(name => 'keepalive_requests', n => $n,
            run => sub {
                my $s = $t->connect;
                for my $i (1 .. 3) {
                    $t->send_raw($s, get('/three'));
                    my $r = $t->read_response($s);
                    die "no response $i\n" unless $r;
                    my $conn = $r->{headers}{connection} // '';
                    die "request $i: Connection: $conn\n"
                        if ($i == 3) != ($conn eq 'close');
                }
                $t->wait_close($s);
                $t->close($s);
            },
            expect => { 'keepalive_requests/server' => $n },
            tw_server => $n, tw_client => 0);

# keepalive_time 1s: the first request after a second closes

$t->case_ok(name => 'keepalive_time', n => 2,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, get('/time'));
                my $r1 = $t->read_response($s);
                die "kept alive too early\n"
                    if ($r1->{headers}{connection} // '') ne 'keep-alive';
                select undef, undef, undef, 1.2;
                $t->send_raw($s, get('/time'));
                my $r2 = $t->read_response($s);
                die "not closed\n"
                    if ($r2->{headers}{connection} // '') ne 'close';
                $t->wait_close($s);
                $t->close($s);
            },
            expect => { 'keepalive_time/server' => 2 },
            tw_server => 2, tw_client => 0);

# a real client: ab, HTTP/1.0 without keep-alive.  ab may open a spare
# connection it closes without a request: that one must show up as the
# client's close before any request, with the TIME-WAIT on the client.

SKIP: {
    skip 'ab (apache2-utils) not installed', 5
        unless TwTest::have('ab');

    my $port = $t->port;
    my $c0 = $t->settled;
    my $mark = $t->tw_mark;
    my %kernel0 = $t->tcp_counters;
    my $created = $t->kernel_counter('TcpExtTW');

    is(system("ab -q -n 50 -c 5 http://127.0.0.1:$port/ >/dev/null 2>&1"),
       0, 'ab ran');

    # before any status fetch, which makes a TIME-WAIT of its own
    my $tw = 0;
    wait_until(sub {
        my $now = $t->kernel_counter('TcpExtTW') - $created;
        my $same = $now == $tw;
        $tw = $now;
        return $same && $tw >= 50;
    }, interval => 0.2);

    my $c1 = $t->settled;
    my $spare = $c1->{accepted} - $c0->{accepted} - 50;

    ok($spare >= 0 && $spare <= 5, "ab: 50 connections, $spare spare");
    $t->moved_ok($c0, $c1, { 'http10/server' => 50,
                             'client_before_request/client' => $spare },
                 'ab: 50 http10 closes by nginx, spares closed by ab');

    # TcpExtTW counts TIME-WAIT sockets as the kernel creates them; ss
    # may show fewer on the server's side, where the SYN of a new
    # connection of ab from the same port ends one (on ab's side, the
    # harness's namespace has tcp_tw_reuse off: none is taken over)
    is($tw, 50 + $spare, 'ab: the kernel created a TIME-WAIT for each close');
    ok($t->tw_server(since => $mark) <= 50,
       'ab: at most 50 on the server side');
    is($t->wait_tw_client($spare, since => $mark), $spare,
       "ab: spares in TIME-WAIT on ab's side")
        or $t->kernel_diag({ port => $port }, \%kernel0);
}

$t->done;
