#!/usr/bin/perl

# TIME_WAIT now: the module's estimate (nginx's FIN closes of the last 60
# seconds, by reason and by server) agrees with the kernel after a burst,
# and the kernel's own counts are read at most once a second.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use POSIX ();
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

# 70 ports of a server nobody asks, first: the kernel's count is of every
# HTTP port, however many there are before those the test uses (in the
# test's own network namespace, where these ports are free)
my $many = join ' ', map { "listen 127.0.0.1:$_;" } 9000 .. 9069;

(my $conf = <<'EOF') =~ s/%%MANY%%/$many/;
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server { %%MANY%% tw off; return 404; }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name one.example;
        location / { return 200 "ok\n"; }
        location /off { keepalive_timeout 0; return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name two.example;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw off;
        location / { tw_status; tw_status_kernel off; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->write_conf($conf);
$t->run;

my $port1 = $t->port('PORT_1');

sub tw { decode_json($t->http_get('/tw_status?format=json',
                                  port => $t->port('PORT_STATUS'))->{body}) }

# the kernel counts every HTTP port of nginx, the status port's too
sub ss_all {
    return $t->tw_server + $t->tw_server(port => $port1)
        + $t->tw_server(port => $t->port('PORT_STATUS'))
        + $t->tw_server(port => $t->port('PORT_2'));
}

# TIME-WAIT sockets the kernel makes from here on (TcpExtTW counts them
# as they are made), and its TCP counters, for a diagnosis
my %kernel0 = $t->tcp_counters;
my $s0 = tw();
is($s0->{time_wait}{estimate}, 0, 'no TIME_WAIT yet');
is($s0->{time_wait}{window}, 60, 'a 60 s window');
is($s0->{time_wait}{kernel}{listen}, 0, 'the kernel agrees: none');

# a burst: 150 Connection: close and 50 keepalive_timeout 0 on one
# server, 30 Connection: close on the other, from both workers

my @kids;
for my $job ([150, '/', 'Connection: close', $t->port],
             [50, '/off', '', $t->port],
             [30, '/', 'Connection: close', $port1])
{
    my ($n, $path, $h, $port) = @$job;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        for (1 .. $n) {
            $t->request("GET $path HTTP/1.1\r\nHost: x\r\n"
                        . ($h ? "$h\r\n" : '') . "\r\n", port => $port);
        }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid $_, 0 for @kids;

# 20 connections the clients close: their TIME_WAIT is on the client
for (1 .. 20) {
    my $s = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", keep => 1);
    $t->close($s);
}

$t->settled;
$t->wait_tw_server(200);
$t->wait_tw_server(30, port => $port1);
select undef, undef, undef, 1.1;   # past the kernel counts' cache

my $all = ss_all();
my $kernel = $t->tw_server + $t->tw_server(port => $port1);

# The kernel can end a TIME-WAIT early: an RST of the client's kernel, a
# new connection taking over its ports (timewait.md, "Reading one against
# the other").  Such a TIME-WAIT was made, as nginx's FIN decided:
# TcpExtTW counts it as it is made, ss no longer shows it.  A few are the
# kernel's doing; a tenth of the burst would be a fault.
my $alive = $t->tw_all;
my $gone = $t->kernel_counter('TcpExtTW') - $kernel0{TcpExtTW} - $alive;
my $status = $t->tw_server(port => $t->port('PORT_STATUS'));

my $s1 = tw();
my $tw = $s1->{time_wait};
is($tw->{estimate}, 230, 'estimate: the 230 closes by nginx');
is($tw->{reasons}{client_close}, 180, 'estimate: 180 client_close');
is($tw->{reasons}{keepalive_disabled}, 50, 'estimate: 50 keepalive_disabled');
is($tw->{reasons}{client_idle}, 0, 'no estimate for client closes');

ok($kernel <= 230 && $kernel + $gone >= 230 && $gone <= 23,
   "ss: 230 TIME-WAIT on nginx's ports ($kernel"
   . ($gone ? ", and $gone the kernel made and ended early" : '') . ')')
    or $t->kernel_diag({}, \%kernel0);
is($tw->{kernel}{listen}, $all,
   "the kernel count in the status agrees with ss on nginx's ports");
is($tw->{kernel}{host}, $alive,
   "host: the kernel's $alive TIME-WAIT, as ss shows them");
ok($alive + $gone >= 250 + $status, "host: $alive TIME-WAIT, both sides"
   . " of loopback (nginx's 230, the clients' 20 and the $status of the"
   . ' status requests at least)')
    or $t->kernel_diag({}, \%kernel0);

my %sv = map { ($_->{name} => $_) } @{ $s1->{servers} };
is($sv{'one.example'}{time_wait}, 200, 'one.example: 200');
is($sv{'two.example'}{time_wait}, 30, 'two.example: 30');

# text and Prometheus carry the same figures

like($t->status_text,
     qr/^TIME_WAIT now: estimate 230 \(nginx's FIN closes of the last 60 s\);/m,
     'text: the estimate');
my $m = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
like($m, qr/^nginx_tw_time_wait_estimate\{reason="client_close"\} 180$/m,
     'prometheus: estimate by reason');
like($m, qr/^nginx_tw_kernel_time_wait_listen_sockets \d+$/m,
     'prometheus: the kernel count');
like($m, qr/^nginx_tw_server_time_wait_estimate\{server="two\.example",listen="127\.0\.0\.1:$port1"\} 30$/m,
     'prometheus: estimate by server');

# the kernel's counts are read at most once a second: within the same
# second a scrape gets the cached figure, later ones a fresh one

select undef, undef, undef, 1.1;
my $before = tw()->{time_wait}{kernel};
$t->request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for 1 .. 5;
$t->wait_tw_server(205);
my $k = ss_all();
my $after = tw()->{time_wait}{kernel};

if ($after->{time} == $before->{time}) {
    is($after->{listen}, $before->{listen}, 'same second: the cached count');
} else {
    is($after->{listen}, $k, 'next second: a fresh count');
}

select undef, undef, undef, 1.1;
$k = ss_all();
is(tw()->{time_wait}{kernel}{listen}, $k, "a second later: fresh, $k");

# "tw_status_kernel off": the kernel is not asked, and its counts are not
# shown; the estimate is

{
    my %off = (port => $t->port('PORT_2'));
    my $j = decode_json($t->http_get('/?format=json', %off)->{body});
    my $kernel = $j->{time_wait}{kernel};
    ok(exists $kernel->{listen} && !defined $kernel->{listen}
       && exists $kernel->{host} && !defined $kernel->{host},
       'tw_status_kernel off: json: kernel counts null');
    is($kernel->{time}, 0, 'tw_status_kernel off: json: never read');
    is($j->{time_wait}{estimate}, tw()->{time_wait}{estimate},
       'tw_status_kernel off: the estimate is there');

    like($t->http_get('/', %off)->{body},
         qr/^TIME_WAIT now: estimate \d+ .*; kernel: not read \(tw_status_kernel off\)$/m,
         'tw_status_kernel off: text');

    my $m = $t->http_get('/?format=prometheus', %off)->{body};
    unlike($m, qr/nginx_tw_kernel_/, 'tw_status_kernel off: prometheus: no'
           . ' kernel series');
    like($m, qr/^nginx_tw_time_wait_estimate\{/m,
         'tw_status_kernel off: prometheus: the estimate');
}

$t->done;
