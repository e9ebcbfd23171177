#!/usr/bin/perl

# A lingering close has sent nginx's FIN before it ends: what happens to
# the connection afterwards does not change why nginx closed it.  A reload
# during the linger (the old worker lingers on), worker_shutdown_timeout
# or worker_connections running out (both take the connection back) leave
# the reason the linger began with: here "lingering", a response complete
# while the request body was still arriving.  The same with
# lingering_close off, where nginx closes at once.  And the other way
# round: a response that began as the worker was shutting down, and ended
# with a lingering close, is a shutdown's.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1, workers => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
worker_shutdown_timeout 3s;
events { worker_connections 16; }
http {
    %%TEST_GLOBALS_HTTP%%
    lingering_time 60s;
    lingering_timeout 30s;
    keepalive_timeout 60s;
    client_header_timeout 60s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }
        location /off/ {
            lingering_close off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }
        location = /slow {
            proxy_pass http://127.0.0.1:%%PORT_3%%;
        }
        location = /static { root %%PREFIX%%/html; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { return 200 "early\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# a backend that answers once the test has made the file "go"
my $go = $t->prefix . '/go';

$t->backend(port => $t->port('PORT_3'), handler => sub {
    my ($c) = @_;
    TwTest::wait_until(sub { -e $go }, timeout => 20);
    syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
             . "Connection: close\r\n\r\nslow\n");
});

$t->write_file('html/static', "static\n");

$t->allow_log(qr/worker_connections are not enough, reusing connections/);

$t->run;

my $post = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    . ('p' x 10);

# the early answer to a POST whose body is still to come: nginx shuts its
# side, then lingers on the rest of the body for up to 60 s

sub lingering {
    my ($uri) = @_;
    my $s = $t->connect or die "connect: $t->{last_error}\n";
    $t->send_raw($s, sprintf($post, $uri // '/'));
    my $r = $t->read_response($s);
    die "no early answer\n" unless $r && $r->{status} == 200;
    my $how = $t->wait_close($s, timeout => 3);
    die "nginx's FIN: got $how\n" unless $how eq 'eof';
    return $s;
}

# a reload, without waiting for the old worker to exit: it lingers on

sub hup {
    my $quits = () = $t->error_log =~ /gracefully shutting down/g;
    kill 'HUP', $t->master_pid or die "HUP: $!\n";
    TwTest::wait_until(sub {
        my $now = () = $t->error_log =~ /gracefully shutting down/g;
        return $now > $quits;
    }, timeout => 10) or die "the old worker did not begin to shut down\n";
}

my $n = 3;

# the old worker lingers on after the reload; the client closes

$t->case_ok(name => 'reload during the linger', n => 1, accepted => $n,
            run => sub {
                my @s = map { lingering() } 1 .. $n;
                hup();
                select undef, undef, undef, 0.5;
                my $c = $t->counts;
                die "closed before the client: $c->{open} open\n"
                    unless $c->{open} == $n;
                $t->close($_) for @s;
            },
            expect => { 'lingering/server' => $n },
            tw_server => $n, tw_client => 0);

# a lingering close after nginx turned keep-alive off for a body it could
# not parse (a 405 to a POST of a static file): the reload during the
# linger does not change its reason either

$t->case_ok(name => 'reload during the linger of an error', n => 1,
            accepted => $n,
            run => sub {
                my @s = map {
                    my $s = $t->connect or die "connect: $t->{last_error}\n";
                    $t->send_raw($s, "POST /static HTTP/1.1\r\nHost: x\r\n"
                                 . "Transfer-Encoding: chunked\r\n\r\n"
                                 . "zz\r\nworld\r\n0\r\n\r\n");
                    my $r = $t->read_response($s);
                    die "no 405\n" unless $r && $r->{status} == 405;
                    my $how = $t->wait_close($s, timeout => 3);
                    die "nginx's FIN: got $how\n" unless $how eq 'eof';
                    $s;
                } 1 .. $n;
                hup();
                select undef, undef, undef, 0.5;
                $t->close($_) for @s;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the old worker's worker_shutdown_timeout (3 s) takes the lingering
# connections back, long before lingering_timeout; the client closes after

$t->case_ok(name => 'worker_shutdown_timeout during the linger', n => 1,
            accepted => $n,
            run => sub {
                my @s = map { lingering() } 1 .. $n;
                my $start = time;
                hup();
                TwTest::wait_until(sub { $t->counts->{open} == 0 },
                                   timeout => 10)
                    or die "not closed by worker_shutdown_timeout\n";
                die "closed too early\n" if time - $start < 2;
                $t->close($_) for @s;
            },
            expect => { 'lingering/server' => $n },
            tw_server => $n, tw_client => 0);

# worker_connections running out: the oldest reusable connection, the
# lingering one, is taken back first; then connections that wait for a
# request, closed by nginx (drain), or by the client at the end

{
    my $c0 = $t->settled;

    my $l = lingering();
    my @idle;

    my $taken = sub {
        $t->counts->{'lingering/server'} > $c0->{'lingering/server'};
    };

    for (1 .. 14) {
        my $s = $t->connect or last;
        push @idle, $s;
        last if TwTest::wait_until($taken, timeout => 0.3);
    }

    ok($taken->(), 'worker_connections ran out: the linger taken back');
    like($t->error_log, qr/worker_connections are not enough/,
         'nginx said so in its log');

    my @ports = map { $_->sockport } $l, @idle;

    $t->close($l);
    $t->close($_) for @idle;

    my $c1 = $t->settled;
    my $drain = $c1->{'drain/server'} - $c0->{'drain/server'};
    my $ahead = $c1->{'client_before_request/client'}
        - $c0->{'client_before_request/client'};

    $t->moved_ok($c0, $c1, { 'lingering/server' => 1, 'drain/server' => $drain,
                             'client_before_request/client' => $ahead },
                 'the linger is lingering, the others drain or the client\'s');
    is($drain + $ahead, scalar @idle, 'every waiting connection counted');
    $t->conservation_ok($c1);

    # nginx's FIN first on the linger and the drained ones, the client's
    # on the others

    my %peers = (peers => \@ports);

    is($t->wait_tw_server(1 + $drain, %peers), 1 + $drain,
       'kernel: a TIME-WAIT on the server for the linger and each drained');
    is($t->wait_tw_client($ahead, %peers), $ahead,
       'kernel: one on the client for each the client closed');
}

# lingering_close off: nginx closes at once on a body still arriving

$t->case_ok(name => 'lingering_close off', n => $n,
            run => sub { $t->close(lingering('/off/')) },
            expect => { 'lingering/server' => $n },
            tw_server => $n, tw_client => 0);

# a response that began after the reload: "Connection: close", then, with
# a byte of a next request in, a lingering close

$t->case_ok(name => 'answered during a shutdown, then lingering', n => 1,
            accepted => 1,
            run => sub {
                my $s = $t->connect or die "connect: $t->{last_error}\n";
                $t->send_raw($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nG");
                select undef, undef, undef, 0.3;
                hup();
                $t->write_file('go', '');
                my $r = $t->read_response($s, timeout => 10);
                die "no response\n" unless $r && $r->{status} == 200;
                die "not Connection: close\n"
                    unless $r->{raw} =~ /^Connection: close\r$/mi;
                my $how = $t->wait_close($s, timeout => 3);
                die "nginx's FIN: got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'shutdown/server' => 1 },
            tw_server => 1, tw_client => 0);

$t->done;
