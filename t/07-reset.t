#!/usr/bin/perl

# Counters never go back; a "since reset" view starts only with POST or
# DELETE on a location with tw_status_reset on, only for clients the
# location allows, and not from a page of another site.  GET changes
# nothing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use JSON::PP;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

my $conf = <<'EOF';
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
        location = /admin {
            tw_status;
            tw_status_reset on;
            allow 127.0.0.1;
            deny all;
        }
    }
}
EOF
$t->write_conf($conf);

$t->run;

my $sp = $t->port('PORT_STATUS');

sub call {
    my ($method, $path, %o) = @_;
    my $h = $o{header} // '';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sp,
                                  LocalAddr => $o{from} // '127.0.0.1',
                                  Timeout => 5)
        or die "connect: $!";
    $t->send_raw($s, "$method $path HTTP/1.1\r\nHost: x\r\n$h"
                 . "Connection: close\r\nContent-Length: 0\r\n\r\n");
    my $r = $t->read_response($s, head => $method eq 'HEAD');
    $t->wait_close($s);
    close $s;
    return $r;
}

sub json { decode_json(call(@_)->{body}) }

$t->http_get('/') for 1 .. 5;
my $before = $t->counts;
is($before->{'client_close/server'}, 5, '5 closes');

# GET changes nothing, however often

call('GET', '/admin?format=json') for 1 .. 3;
call('GET', '/admin?since=reset&format=json');
is_deeply($t->counts, $before, 'GET changes nothing');

# where resets are off, POST and DELETE are not allowed

for my $m (qw(POST DELETE)) {
    my $r = call($m, '/tw_status');
    is($r->{status}, 405, "$m where tw_status_reset is off: 405");
    is($r->{headers}{allow}, 'GET, HEAD', "$m: Allow: GET, HEAD");
}

# a client the location denies gets 403 and resets nothing

my $r = call('POST', '/admin', from => '127.0.0.2');
is($r->{status}, 403, 'POST from a denied address: 403');
$r = call('GET', '/admin', from => '127.0.0.2');
is($r->{status}, 403, 'GET from a denied address: 403');
is(json('GET', '/admin?format=json')->{resets}, 0, 'no reset happened');

# POST ends the period: it answers with the period's figures

my $p = json('POST', '/admin?format=json');
is($p->{period}, 'reset', 'POST: the period that ended');
is($p->{reasons}{client_close}{server}, 5, 'POST: its 5 closes');
is($p->{resets}, 1, 'POST: resets 1');
like($t->error_log, qr/tw: counters reset by 127\.0\.0\.1/,
     'the reset is logged');

my $s = json('GET', '/admin?since=reset&format=json');
is($s->{connections}{closed}, 0, 'since the reset: nothing closed');
is($s->{connections}{accepted}, 0, 'since the reset: nothing accepted');
ok($s->{period_start} >= $p->{start_time}, 'period start');

# the monotonic view did not move

my $after = $t->counts;
is_deeply($after, $before, 'the counters themselves did not go back');

$t->http_get('/') for 1 .. 3;
my $s2 = json('GET', '/admin?since=reset&format=json');
is($s2->{reasons}{client_close}{server}, 3, 'since the reset: 3 new');
is($s2->{connections}{accepted}, 3, 'since the reset: accepted 3');
is($t->counts->{'client_close/server'}, 8, 'in all: 8');

like(call('GET', '/admin?since=reset')->{body},
     qr/^period: since the last reset, \d+ s, resets: 1$/m,
     'text: the period line');

# DELETE resets too; other methods are refused with the full Allow list

$p = json('DELETE', '/admin?format=json');
is($p->{reasons}{client_close}{server}, 3, 'DELETE: the 3 of its period');
is(json('GET', '/admin?since=reset&format=json')->{connections}{closed},
   0, 'DELETE started a new period');

$r = call('PUT', '/admin');
is($r->{status}, 405, 'PUT: 405');
is($r->{headers}{allow}, 'GET, HEAD, POST, DELETE', 'PUT: Allow');

# Prometheus counters never go back

$r = call('GET', '/admin?since=reset&format=prometheus');
is($r->{status}, 400, 'since=reset in Prometheus: 400');
like($r->{body}, qr/never go back/, 'with the reason');
$r = call('POST', '/admin?format=prometheus');
is($r->{status}, 400, 'POST in Prometheus: 400');
is(json('GET', '/admin?format=json')->{resets}, 2, 'and no reset');
like(call('GET', '/admin?format=prometheus')->{body},
     qr/^nginx_tw_resets_total 2$/m, 'resets in Prometheus');

$r = call('GET', '/admin?since=yesterday');
is($r->{status}, 400, 'unknown since: 400');
like($r->{body}, qr/unknown "since", use "start" or "reset": "yesterday"/,
     'with the reason');

# a reset while a reload has removed a server starts its period too: the
# server a later reload brings back shows only what came after the reset

my $gone = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name gone.example;
        location / { return 200 "gone\n"; }
    }
EOF
(my $with = $conf) =~ s/^(http \{\n)/$1$gone/m
    or die 'no http block in the configuration';

sub gone_server {
    my ($st) = @_;
    my ($sv) = grep { $_->{name} eq 'gone.example' } @{ $st->{servers} };
    return $sv;
}

$t->write_conf($with);
ok($t->reload, 'reload: gone.example added');
$t->http_get('/', port => $t->port('PORT_1')) for 1 .. 4;
is(gone_server(json('GET', '/admin?since=reset&format=json'))->{closed}, 4,
   'gone.example: 4 closes');

$t->write_conf($conf);
ok($t->reload, 'reload: gone.example removed');
ok(!gone_server(json('GET', '/admin?format=json')), 'no longer listed');
json('POST', '/admin?format=json');

$t->write_conf($with);
ok($t->reload, 'reload: gone.example back');
$t->http_get('/', port => $t->port('PORT_1')) for 1 .. 2;

$s = json('GET', '/admin?since=reset&format=json');
is(gone_server($s)->{closed}, 2, 'since the reset: its 2 new closes only');
is(gone_server(json('GET', '/admin?format=json'))->{closed}, 6,
   'since the start: all 6');
my $sum = 0;
$sum += $_->{closed} for @{ $s->{servers} };
ok($sum <= $s->{connections}{closed}, 'the servers within the total');

# conditional headers change nothing: a reset done is answered with the
# period it ended, never with a 412 or a 304 that would lose it

for my $h ('If-Match: "nope"', 'If-None-Match: *',
           'If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT')
{
    my $r = call('DELETE', '/admin?format=json', header => "$h\r\n");
    is($r->{status}, 200, "DELETE with $h: 200");
    my $d = eval { decode_json($r->{body}) } // {};
    is($d->{period}, 'reset', "DELETE with $h: the period it ended");

    $r = call('GET', '/tw_status?format=json', header => "$h\r\n");
    is($r->{status}, 200, "GET with $h: 200");
}

# a browser sends a form's POST to any site: a reset that a page of
# another site made it send is refused, and resets nothing; the same
# site's page, and clients that are not browsers, reset

my $resets = json('GET', '/admin?format=json')->{resets};

for my $h ('Origin: http://evil.example', 'Origin: null',
           'Origin: http://x:8080', 'Origin: x',
           'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Site: same-site',
           "Origin: http://x\r\nSec-Fetch-Site: cross-site",
           "Origin: http://x\r\nOrigin: http://x")
{
    (my $name = $h) =~ s/\r\n/, /g;
    my $r = call('POST', '/admin?format=json', header => "$h\r\n");
    is($r->{status}, 403, "POST with $name: 403");
    like($r->{body}, qr/^a reset from a page of another site is refused$/m,
         "POST with $name: the reason");
}

is(json('GET', '/admin?format=json')->{resets}, $resets,
   'no reset from another site');

for my $h ('Origin: http://x', 'Origin: HTTPS://X',
           'Sec-Fetch-Site: same-origin', 'Sec-Fetch-Site: none',
           "Origin: http://x\r\nSec-Fetch-Site: same-origin",

           # the browser's word on where it sends the request decides:
           # a page with no referrer sends "null", a proxy in front
           # changes the Host

           "Origin: null\r\nSec-Fetch-Site: same-origin",
           "Origin: https://public.example\r\nSec-Fetch-Site: same-origin")
{
    (my $name = $h) =~ s/\r\n/, /g;
    my $r = call('DELETE', '/admin?format=json', header => "$h\r\n");
    is($r->{status}, 200, "DELETE with $name: 200");
}

is(json('GET', '/admin?format=json')->{resets}, $resets + 7,
   'the same site resets');

$t->done;
