#!/usr/bin/perl

# keepalive_min_timeout (nginx 1.27.4 and later): for that long an idle
# keep-alive connection is neither reclaimed by a drain nor closed by a
# graceful shutdown.  A worker that is shutting down (a reload, SIGQUIT)
# keeps such connections, even those whose response ends after the
# shutdown began, and closes them when the minimum time runs out: those
# closes are the shutdown's, not keepalive_timeout's.  With a minimum
# as long as keepalive_timeout, the close comes at keepalive_timeout,
# shutdown or not.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use TwTest;

my $t = TwTest->new(netns => 1, workers => 1);
$t->need_netns;

plan skip_all => 'keepalive_min_timeout needs nginx 1.27.4 or later'
    unless $t->version_at_least('1.27.4');

my $conf = <<'EOF';
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_min_timeout 1s;

    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_timeout 2s;
        location / { return 200 "ok\n"; }
    }

    server {
        listen 127.0.0.1:%%PORT_2%%;
        keepalive_timeout 60s;
        location / { return 200 "ok\n"; }
        location /slow {
            limit_rate 200;
            return 200 "SLOW_BODY";
        }
    }
    # a minimum longer than keepalive_timeout: the connection is closed
    # at keepalive_timeout, shutting down or not
    server {
        listen 127.0.0.1:%%PORT_3%%;
        keepalive_timeout 2s;
        keepalive_min_timeout 3s;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# 600 bytes at 200 a second: the response takes about 3 seconds
$conf =~ s/SLOW_BODY/'x' x 600/e;
$t->write_conf($conf);

$t->run;

my $n = 3;
my $get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
my $port2 = $t->port(2);
my $port3 = $t->port(3);

sub served {
    my (%o) = @_;
    my $s = $t->request($get, keep => 1, %o);
    die "no keep-alive\n" unless $s;
    return $s;
}

sub closed_by_nginx {
    my ($s, $timeout) = @_;
    my $how = $t->wait_close($s, timeout => $timeout);
    die "nginx did not close: $how\n" unless $how eq 'eof';
    $t->close($s);
}

# without a shutdown the minimum changes nothing: the connection is idle
# for the minimum, then for the rest of keepalive_timeout

$t->case_ok(name => 'keepalive_timeout with a minimum', n => 1,
            accepted => $n,
            run => sub {
                my @s = map { served() } 1 .. $n;
                my $start = time;
                closed_by_nginx($_, 5) for @s;
                die "closed too early\n" if time - $start < 1.5;
            },
            expect => { 'keepalive_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

# a reload: the old worker keeps the idle connections for the minimum,
# then closes them, long before keepalive_timeout (60s)

$t->case_ok(name => 'reload during the minimum', n => 1, accepted => $n,
            port => $port2,
            run => sub {
                my @s = map { served(port => $port2) } 1 .. $n;
                $t->reload or die "reload failed\n";
                closed_by_nginx($_, 5) for @s;
            },
            expect => { 'shutdown/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'reload, minimum above keepalive_timeout', n => 1,
            accepted => $n, port => $port3,
            run => sub {
                my @s = map { served(port => $port3) } 1 .. $n;
                my $start = time;
                $t->reload or die "reload failed\n";
                closed_by_nginx($_, 5) for @s;
                die "closed too early\n" if time - $start < 1.5;
            },
            expect => { 'keepalive_timeout/server' => $n },
            tw_server => $n, tw_client => 0);

# a response that began before the shutdown and ends after it is kept
# alive all the same, for the minimum: its header said keep-alive (one
# that begins after is answered with "Connection: close")

$t->case_ok(name => 'response ends during a shutdown', n => 1, accepted => 1,
            port => $port2,
            run => sub {
                my $s = $t->connect(port => $port2);
                $t->send_raw($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
                select undef, undef, undef, 0.3;
                # taken before: under memcheck, reload() returns only
                # once the old worker has exited, after the response
                my $reloaded = time;
                $t->reload or die "reload failed\n";
                my $r = $t->read_response($s, timeout => 10);
                die "no response\n" unless $r && $r->{status} == 200;
                die "not kept alive\n"
                    unless $r->{raw} =~ /^Connection: keep-alive\r$/mi;
                die "the response ended before the reload\n"
                    if time - $reloaded < 1;
                closed_by_nginx($s, 5);
            },
            expect => { 'shutdown/server' => 1 },
            tw_server => 1, tw_client => 0);

$t->done;
