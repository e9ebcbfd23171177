#!/usr/bin/perl

# A bounded fuzz run: random and malformed requests (garbage, huge
# headers, broken chunked bodies, slow senders, pipelines), ended by the
# client in random ways.  No worker may crash, every connection must be
# counted, and none may fall into "other".  TW_FUZZ_SEED repeats a run;
# TW_FUZZ_CONNECTIONS (300) sets its size.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

my $seed = $ENV{TW_FUZZ_SEED} // time;
my $n = $ENV{TW_FUZZ_CONNECTIONS} // 300;
diag("TW_FUZZ_SEED=$seed");

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    client_header_timeout 1s;
    client_body_timeout 1s;
    keepalive_timeout 1s;
    lingering_timeout 1s;
    large_client_header_buffers 4 8k;
    client_max_body_size 1k;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /drop { return 444; }
        location /echo { proxy_pass http://127.0.0.1:%%PORT_2%%; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { return 200 "backend\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

sub garbage {
    my ($len) = @_;
    return join '', map { chr int rand 256 } 1 .. $len;
}

my @requests = (
    sub { garbage(1 + int rand 2000) },
    sub { "GET / HTTP/1.1\r\nHost: x\r\n" . garbage(int rand 300) . "\r\n\r\n" },
    sub { "GET /" . ('a' x (5000 + int rand 20000)) . " HTTP/1.1\r\n\r\n" },
    sub { "GET / HTTP/1.1\r\nHost: x\r\nX: " . ('b' x (int rand 40000))
          . "\r\n\r\n" },
    sub { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          . (rand > 0.5 ? "zz\r\n" : "5\r\nab") },
    sub { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
          . int(rand 5000) . "\r\n\r\n" . garbage(int rand 100) },
    sub { ("GET / HTTP/1.1\r\nHost: x\r\n\r\n" x (1 + int rand 5))
          . "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n" },
    sub { "GET / HTTP/1.0\r\n\r\n" },
    sub { "GET / HTTP/9.9\r\nHost: x\r\n\r\n" },
    sub { "\r\n\r\n\r\n" },
    sub { "" },
);

my @kids;
my $per = int($n / 3);

# each client writes how many connections it made: a connect() that
# fails, or a client stopped by its time limit (a slow machine, a
# sanitizer), makes fewer, and nginx counts only those

sub made_file { "fuzz-client-$_[0]" }

for my $k (0 .. 2) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $made = 0;
        my $done = sub {
            $t->write_file(made_file($k), $made);
            POSIX::_exit(0);
        };
        local $SIG{ALRM} = $done;
        srand($seed + $k);
        alarm 60 + $per;
        for (1 .. $per) {
            my $s = $t->connect or next;
            $made++;
            my $req = $requests[int rand @requests]->();

            if (rand() < 0.1 && length $req) {
                # a slow sender: a few bytes at a time
                for my $chunk (unpack '(a7)*', substr($req, 0, 70)) {
                    $t->send_raw($s, $chunk, timeout => 1) or last;
                    sleep 0.02;
                }
            } else {
                $t->send_raw($s, $req, timeout => 1);
            }

            my $end = rand;
            if ($end < 0.25) {
                $t->close($s);
            } elsif ($end < 0.45) {
                $t->reset($s);
            } elsif ($end < 0.6) {
                $t->half_close($s);
                $t->wait_close($s, timeout => 3);
                $t->close($s);
            } else {
                $t->wait_close($s, timeout => 3);
                rand() < 0.5 ? $t->close($s) : $t->reset($s);
            }
        }
        $done->();
    }
    push @kids, $pid;
}

waitpid $_, 0 for @kids;

my $made = 0;
for my $k (0 .. 2) {
    my $m = $t->read_file(made_file($k));
    $made += $m // 0;
    diag("client $k made " . ($m // 'an unknown number of') . " of its $per"
         . ' connections') unless defined $m && $m == $per;
}

my $c = wait_until(sub { my $c = $t->counts; $c->{open} == 0 && $c },
                   timeout => 10);
ok($c, 'every connection closed') or $c = $t->counts;
is($c->{accepted}, $made, "all $made connections counted as accepted");
$t->conservation_ok($c, 'accepted == closed + open + lost, other == 0');
is($c->{lost}, 0, 'no worker died');

my %reasons;
for my $key (grep { m{/} && $c->{$_} } keys %$c) {
    $reasons{$key} = $c->{$key};
}
diag(join ', ', map { "$_ $reasons{$_}" } sort keys %reasons);

$t->done;
