#!/usr/bin/perl

# Distributions at close, by who closed first: requests per connection,
# connection lifetime, and idle time before an idle connection's close,
# as JSON buckets, Prometheus histograms (_bucket, _sum, _count) and text
# quantiles.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /three { keepalive_requests 3; return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $get = "GET /three HTTP/1.1\r\nHost: x\r\n\r\n";

# 5 connections ended by keepalive_requests 3: 3 requests each
for (1 .. 5) {
    my $s = $t->connect;
    for (1 .. 3) {
        $t->send_raw($s, $get);
        $t->read_response($s);
    }
    $t->wait_close($s);
    $t->close($s);
}

# 4 single requests with Connection: close
$t->request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for 1 .. 4;

# 3 connections the client closes after 0.2 s idle: at least 0.2 s
# idle for nginx, and 0.3 s to spare below the bucket's 0.5 s for the
# requests of the other two and the close on a slow machine
my @s = map { $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", keep => 1) }
    1 .. 3;
select undef, undef, undef, 0.2;
$t->close($_) for @s;

# 2 connections nginx closes after keepalive_timeout 1s
@s = map { $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", keep => 1) }
    1 .. 2;
$t->close_all(\@s, expect => 'eof', timeout => 5);

$t->settled;

my $st = decode_json($t->http_get('/tw_status?format=json',
                                  port => $t->port('PORT_STATUS'))->{body});
my $h = $st->{histograms};

is_deeply($h->{requests}{le}, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
                               10000], 'requests: bucket bounds');
is($h->{duration_seconds}{le}[0], 0.01, 'lifetime: in seconds');

my $req = $h->{requests}{server};
is($req->{count}, 11, 'requests, server: 11 closes');
is($req->{sum}, 5 * 3 + 4 + 2, 'requests, server: sum 21');
is($req->{buckets}[0], 6, 'requests, server: 6 with 1 request');
is($req->{buckets}[2], 5, 'requests, server: 5 with 3 (le 5)');
is($h->{requests}{client}{count}, 3, 'requests, client: 3 closes');

my $idle = $h->{idle_seconds};
is($idle->{client}{count}, 3, 'idle, client: 3');
is($idle->{client}{buckets}[1], 3, 'idle, client: all at 0.1 to 0.5 s');
is($idle->{server}{count}, 2, 'idle, server: the 2 keepalive timeouts');
is($idle->{server}{buckets}[2] + $idle->{server}{buckets}[3], 2,
   'idle, server: all at about 1 s');
ok($idle->{server}{sum} >= 2 && $idle->{server}{sum} < 4,
   "idle, server: sum $idle->{server}{sum} s");

my $life = $h->{duration_seconds};
is($life->{server}{count} + $life->{client}{count}, 14,
   'lifetime: every close');

# Prometheus: cumulative buckets up to +Inf, _sum and _count

my $m = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
like($m, qr/^# TYPE nginx_tw_connection_requests histogram$/m,
     'prometheus: histogram type');
like($m, qr/^nginx_tw_connection_requests_bucket\{closer="server",le="1"\} 6$/m,
     'prometheus: le 1');
like($m, qr/^nginx_tw_connection_requests_bucket\{closer="server",le="5"\} 11$/m,
     'prometheus: le 5, cumulative');
like($m, qr/^nginx_tw_connection_requests_bucket\{closer="server",le="\+Inf"\} 11$/m,
     'prometheus: +Inf');
like($m, qr/^nginx_tw_connection_requests_sum\{closer="server"\} 21$/m,
     'prometheus: sum');
like($m, qr/^nginx_tw_connection_requests_count\{closer="server"\} 11$/m,
     'prometheus: count');
like($m, qr/^nginx_tw_connection_idle_seconds_bucket\{closer="client",le="0\.500"\} 3$/m,
     'prometheus: seconds as the unit');

$t->promtool_ok($m, 'promtool accepts the histograms');

# text: quantiles from the buckets

my $text = $t->status_text;
like($text, qr/^requests per connection, server first: 11; median <= 1, p90 <= 5, p99 <= 5$/m,
     'text: requests quantiles');
like($text, qr/^idle before an idle close, client first: 3; median <= 0\.500 s/m,
     'text: idle quantiles');

$t->done;
