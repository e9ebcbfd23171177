#!/usr/bin/perl

# The Prometheus exposition (?format=prometheus), checked by promtool, and
# tw_status_format, which sets a location's default format.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip);
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
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; }
        location = /metrics { tw_status; tw_status_format prometheus; }
        location = /json { tw_status; tw_status_format json; }

        location = /gzip {
            tw_status;
            gzip on;
            gzip_types text/plain application/json;
            gzip_min_length 1;
            charset utf-8;
        }
    }
}
EOF

$t->run;

my $sp = $t->port('PORT_STATUS');

$t->http_get('/') for 1 .. 7;
$t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", keep => 1)->close;

my $c = $t->settled;

my $r = $t->http_get('/metrics', port => $sp);
is($r->{status}, 200, 'prometheus: 200');
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4',
   'prometheus: content type');

my $m = $r->{body};

sub metric {
    my ($name, $labels) = @_;
    my $l = $labels ? "\\{\Q$labels\E\\}" : '';
    return $m =~ /^\Q$name\E$l (\S+)$/m ? $1 : undef;
}

is(metric('nginx_tw_connections_accepted_total'), 8, 'accepted');
is(metric('nginx_tw_connections_open'), 0, 'open');
is(metric('nginx_tw_requests_total'), 8, 'requests');
is(metric('nginx_tw_connections_closed_total',
          'reason="client_close",closer="server"'), 7,
   'client_close, server');
is(metric('nginx_tw_connections_closed_total',
          'reason="client_idle",closer="client"'), 1, 'client_idle, client');
is(metric('nginx_tw_reloads_total'), 0, 'reloads');
my $st = $t->status;
is(metric('nginx_tw_info', "version=\"$st->{version}\","
          . "nginx_version=\"$st->{nginx_version}\""), 1, 'info');
ok(metric('nginx_tw_start_time_seconds') > 1_600_000_000, 'start time');

is(scalar(() = $m =~ /^nginx_tw_connections_closed_total\{/mg), 23 * 4,
   'one series per reason and closer');

# every figure agrees with the JSON of the same moment

my $sum = 0;
$sum += $1 while $m =~ /^nginx_tw_connections_closed_total\{.*\} (\d+)$/mg;
is($sum, $c->{closed}, 'the series add up to the closed connections');

# naming rules: counters end in _total, nothing else does, and no name
# is used for two types

my %type;
while ($m =~ /^# TYPE (\S+) (\S+)$/mg) {
    ok(!exists $type{$1}, "$1 declared once");
    $type{$1} = $2;
}
for my $name (sort keys %type) {
    if ($type{$name} eq 'counter') {
        like($name, qr/_total$/, "counter $name ends in _total");
    } else {
        unlike($name, qr/_total$/, "$type{$name} $name does not");
    }
}

$t->promtool_ok($m, 'promtool check metrics accepts it');

# tw_status_format sets the default; ?format= still chooses

$r = $t->http_get('/json', port => $sp);
is($r->{headers}{'content-type'}, 'application/json', 'json by default');
ok(eval { decode_json($r->{body}) }, 'and it is JSON');

$r = $t->http_get('/json?format=text', port => $sp);
like($r->{body}, qr/^ngx_tw /, '?format=text overrides it');

$r = $t->http_get('/tw_status?format=prometheus', port => $sp);
like($r->{body}, qr/^# HELP nginx_tw_info /, '?format=prometheus');

$r = $t->http_get('/tw_status', port => $sp);
like($r->{body}, qr/^ngx_tw /, 'text without the directive');

# nginx's filters match a type without its parameters: the Prometheus
# format is compressed as text/plain, and keeps its one parameter

my %ctype = (text => 'text/plain; charset=utf-8', json => 'application/json',
            prometheus => 'text/plain; version=0.0.4');
my %start = (text => qr/^ngx_tw /, json => qr/^\{/,
             prometheus => qr/^# HELP nginx_tw_info /);

for my $f (qw(text json prometheus)) {
    $r = $t->http_get("/gzip?format=$f", port => $sp,
                      headers => ['Accept-Encoding: gzip']);
    is($r->{headers}{'content-encoding'}, 'gzip', "$f: gzip_types matched");
    is($r->{headers}{'content-type'}, $ctype{$f}, "$f: content type");

    my $body;
    gunzip(\$r->{body} => \$body);
    like($body // '', $start{$f}, "$f: the status, compressed");
}

$t->conf_error_ok(<<'EOF', qr/invalid value "xml"/, 5, 'tw_status_format xml');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_status_format xml;
}
EOF

$t->done;
