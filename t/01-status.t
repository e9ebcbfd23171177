#!/usr/bin/perl

# Smoke test of the module: tw_status answers in text and JSON, counts
# exactly the connections this test makes (2 workers), and refuses what
# it does not serve.

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
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $sp = $t->port('PORT_STATUS');

my $c0 = $t->settled;
is($c0->{accepted}, 0, 'nothing accepted yet: the status port is not counted');
is($c0->{open}, 0, 'nothing open');

# 20 connections with "Connection: close", spread over both workers

my $n = 20;
my $ok = 0;
for (1 .. $n) {
    my $r = $t->http_get('/');
    $ok++ if $r && $r->{status} == 200;
}
is($ok, $n, "$n requests answered");

my $c1 = $t->counts;
is($c1->{accepted}, $n, "accepted == the $n connections made");
is($c1->{closed}, $n, "closed == $n");
is($c1->{open}, 0, 'none open');
is($c1->{requests}, $n, "requests == $n");
$t->moved_ok($c0, $c1, { 'client_close/server' => $n },
             "all $n counted as client_close, server FIN");
$t->conservation_ok($c1);

# every worker reads the same shared counters

my %seen;
for (1 .. 40) {
    my $r = $t->http_get('/tw_status?format=json', port => $sp);
    next unless $r && $r->{status} == 200;
    $seen{ decode_json($r->{body})->{connections}{accepted} }++;
}
is_deeply([keys %seen], [$n], 'every fetch, from either worker, agrees');

# the JSON document

my $st = $t->status;
is($st->{schema}, 1, 'schema 1');
like($st->{version}, qr/^\d+\.\d+\.\d+$/, 'module version');
like($st->{nginx_version}, qr/^1\.\d+\.\d+$/, 'nginx version');
ok($st->{start_time} > 1_600_000_000 && $st->{start_time} <= time,
   'start_time is a unix time');
is($st->{generation}, 0, 'generation 0 before any reload');
is(scalar keys %{ $st->{closers} }, 4, 'four closers');
ok(exists $st->{reasons}{$_}, "reason $_ listed")
    for qw(keepalive_disabled client_close http10 keepalive_disable_browser
           keepalive_requests keepalive_time keepalive_timeout error_response
           request_header_timeout no_request_timeout body_timeout
           send_timeout closed_by_config lingering shutdown drain upgrade
           tls_handshake http2 client_idle client_abort
           client_before_request other);

# the text format

my $text = $t->status_text;
like($text, qr/^ngx_tw \d+\.\d+\.\d+, nginx 1\.\d+\.\d+$/m, 'text: banner');
like($text, qr/^connections: accepted $n, open 0, closed $n, requests $n$/m,
     'text: connection line');
like($text, qr/^reason +server +client +server_reset +client_reset$/m,
     'text: table header');
like($text, qr/^client_close +$n +0 +0 +0$/m, 'text: client_close line');
is(scalar(() = $text =~ /^[a-z0-9_]+ +\d+ +\d+ +\d+ +\d+$/mg), 23,
   'text: one line per reason');

# methods and formats

my $r = $t->http_get('/tw_status?format=text', port => $sp);
is($r->{status}, 200, 'format=text');
is($r->{headers}{'content-type'}, 'text/plain', 'text/plain');

$r = $t->http_get('/tw_status?format=json', port => $sp);
is($r->{headers}{'content-type'}, 'application/json', 'application/json');

$r = $t->http_get('/tw_status', port => $sp, method => 'HEAD');
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');

for my $m (qw(POST PUT DELETE)) {
    $r = $t->http_get('/tw_status', port => $sp, method => $m);
    is($r->{status}, 405, "$m: 405");
    is($r->{headers}{allow}, 'GET, HEAD', "$m: Allow header");
}

$r = $t->http_get('/tw_status?format=xml', port => $sp);
is($r->{status}, 400, 'unknown format: 400');
like($r->{body},
     qr/unknown format, use "text", "json" or "prometheus": "xml"/,
     'unknown format: the reason');

$r = $t->http_get('/tw_status?format=%01%22', port => $sp);
is($r->{status}, 400, 'garbage format: 400');
unlike($r->{body}, qr/[\x00-\x09\x0b-\x1f]/, 'garbage format: not echoed raw');

# the status port's own connections were never counted

is($t->counts->{accepted}, $n, 'status fetches are not counted (tw off)');

$t->done;
