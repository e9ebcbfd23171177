#!/usr/bin/perl

# Reloads under load: nginx -s reload five times while three client
# processes keep sending requests; the counters never go back, and
# afterwards every connection is accounted for.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    keepalive_timeout 2s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $until = time + 6;
my @kids;

for my $kind (qw(close keepalive idle)) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        while (time < $until) {
            if ($kind eq 'close') {
                $t->request("GET / HTTP/1.1\r\nHost: x\r\n"
                            . "Connection: close\r\n\r\n");
            } elsif ($kind eq 'keepalive') {
                my $s = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                    keep => 1) or next;
                $t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                $t->read_response($s);
                $t->close($s);
            } else {
                my $s = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                    keep => 1) or next;
                sleep 0.3;
                $t->close($s);
            }
        }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

my @seen;
my $back = 0;
my $reloads = 0;

for (1 .. 5) {
    sleep 0.8;
    $reloads++ if $t->reload;
    my $c = $t->counts;
    if (@seen) {
        for my $k (qw(accepted closed requests)) {
            $back++ if $c->{$k} < $seen[-1]{$k};
        }
        for my $k (grep { m{/} } keys %$c) {
            $back++ if $c->{$k} < $seen[-1]{$k};
        }
    }
    push @seen, $c;
}

waitpid $_, 0 for @kids;

is($reloads, 5, 'five reloads under load');
is($back, 0, 'no counter went back across the reloads');
ok($seen[-1]{generation} == 5, 'generation 5');

my $c = wait_until(sub { my $c = $t->counts; $c->{open} == 0 && $c },
                   timeout => 10);
ok($c, 'every connection closed in the end') or $c = $t->counts;
ok($c->{accepted} > 500, "$c->{accepted} connections");
$t->conservation_ok($c, 'accepted == closed + open + lost, other == 0');
is($c->{lost}, 0, 'none lost');
ok($c->{'shutdown/server'} > 0,
   "idle connections closed by the reloads: $c->{'shutdown/server'}");

$t->done;
