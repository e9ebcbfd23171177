#!/usr/bin/perl

# Names as tw_status shows them: a tw_key value is cut to 256 bytes
# between characters and made valid UTF-8 (a byte that is not part of a
# valid character becomes "?"), so that JSON and Prometheus readers take
# every response; advice texts show a value escaped as in JSON; servers
# with the same label (first server_name, first listen address) share one
# entry; a listen address with a byte that is not UTF-8 is made valid as
# a name is.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Encode qw(decode);
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

# and a server name with a byte that is not UTF-8 (nginx takes any byte),
# and a UNIX socket's path with one (never watched, but listed)

my $conf = <<'EOF';
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_key_max 1000;
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name keyed.example;
        tw_key $http_x_key;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name dup.example;
        location / { return 200 "first\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name dup.example other.example;
        location / { return 200 "second\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name LATIN1;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name LATIN2;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%%;
        server_name ~a.example;
        location / { return 200 "regex\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%%;
        server_name a.example;
        location / { return 200 "plain\n"; }
    }
    server {
        listen unix:%%PREFIX%%/UNIXPATH;
        server_name unix.example;
        location / { return 200 "ok\n"; }
    }
    server {
        listen unix:%%PREFIX%%/mixed.sock;
        listen 127.0.0.1:%%PORT_3%%;
        server_name mixed.example;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; tw_status_reset on; }
    }
}
EOF

$conf =~ s/UNIXPATH/s\xff\x01q.sock/;
$conf =~ s/LATIN1/caf\xe9.example/;
$conf =~ s/LATIN2/caf\xe8.example/;
$t->write_conf($conf);

$t->run;

sub get {
    my ($key, %o) = @_;
    return "GET / HTTP/1.1\r\nHost: " . ($o{host} // 'keyed.example')
        . "\r\n" . (defined $key ? "X-Key: $key\r\n" : '')
        . "Connection: close\r\n\r\n";
}

# the raw JSON, decoded strictly as UTF-8
sub status_strict {
    my $resp = $t->http_get('/tw_status?format=json',
                            port => $t->port('PORT_STATUS'));
    my $st = eval { JSON::PP->new->utf8->decode($resp->{body}) };
    ok($st, 'JSON is valid UTF-8') or diag($@);
    return $st // {};
}

sub key_requests {
    my ($st) = @_;
    return { map { ($_->{key} => $_->{requests}) } @{ $st->{keys} } };
}

sub reset_counters {
    my $r = $t->http_get('/tw_status', method => 'POST',
                         headers => ['Content-Length: 0'],
                         port => $t->port('PORT_STATUS'));
    die "reset: $r->{status}\n" unless $r->{status} == 200;
}

my @cases = (
    # what the client sends       what tw_status shows (as characters)
    ["bad\xffbyte",              "bad?byte",        'an invalid byte'],
    ["caf\xc3\xa9",               "caf\x{e9}",       'a valid character'],
    ["\xc3",                      "?",               'a cut character'],
    ["\xc0\xaf",                  "??",              'an overlong form'],
    ["\xed\xa0\x80",              "???",             'a surrogate'],
    ["\xf4\x90\x80\x80",          "????",            'above U+10FFFF'],
    ["\x80" x 300,                "?" x 256,         '300 stray bytes'],
    [("a" x 254) . "\xe2\x82\xac", "a" x 254,        'cut before a character'],
    [("a" x 253) . "\xe2\x82\xac", ("a" x 253) . "\x{20ac}",
                                                     'a character that fits'],
    ['q"x\\y', 'q"x\\y',                             'quotes and backslashes'],
);

for my $c (@cases) {
    $t->request(get($c->[0])) for 1 .. 2;
}

$t->settled;

my $st = status_strict();
my $keys = key_requests($st);

for my $c (@cases) {
    is($keys->{ $c->[1] }, 2, "key value: $c->[2]")
        or diag(explain([sort keys %$keys]));
}

is(scalar(grep { $_ eq '' } keys %$keys), 0, 'no empty key value');
ok(!grep({ length(Encode::encode('UTF-8', $_)) > 256 } keys %$keys),
   'every value at most 256 bytes');

# Prometheus: valid UTF-8 too, and the escaped label is there

my $prom = $t->http_get('/tw_status?format=prometheus',
                        port => $t->port('PORT_STATUS'))->{body};
ok(eval { decode('UTF-8', $prom, Encode::FB_CROAK | Encode::LEAVE_SRC); 1 },
   'Prometheus: valid UTF-8') or diag($@);
like($prom, qr/^nginx_tw_key_requests_total\{key="q\\"x\\\\y"\} 2$/m,
     'Prometheus: quote and backslash escaped');
like($prom, qr/^nginx_tw_key_requests_total\{key="bad\?byte"\} 2$/m,
     'Prometheus: the replaced byte');

# advice: the value escaped as in JSON, in the text format too

reset_counters();

$t->request(get("e\"l\x01b")) for 1 .. 20;
$t->settled;

my $resp = $t->http_get('/tw_status?since=reset&format=json',
                        port => $t->port('PORT_STATUS'));
my $a = JSON::PP->new->utf8->decode($resp->{body});
my ($adv) = grep { $_->{rule} eq 'key_client_close' } @{ $a->{advice} };

ok($adv, 'advice for the key') or diag(explain($a->{advice}));
is($adv->{subject}, "e\"l\x01b", 'advice: the subject as it is');
like($adv->{text} // '', qr/^key "e\\"l\\u0001b" sends Connection: close/,
     'advice: the text shows it escaped');

my $text = $t->http_get('/tw_status?since=reset',
                        port => $t->port('PORT_STATUS'))->{body};
like($text, qr/^  - key "e\\"l\\u0001b" sends Connection: close/m,
     'text format: the advice line escaped');
unlike($text, qr/\x01/, 'text format: no raw control character');

# the longest names at their longest escaped, each with several cells:
# every format whole (under AddressSanitizer, the response buffer is
# checked to the byte)

my @worst = ("\x01" x 256, '"' x 256, '\\' x 256, "\xff" x 256);

for my $key (@worst) {
    my $h = "Host: keyed.example\r\nX-Key: $key\r\n";

    $t->request("GET / HTTP/1.1\r\n${h}Connection: close\r\n\r\n");
    $t->request("GET / HTTP/1.0\r\n$h\r\n");

    my $s = $t->request("GET / HTTP/1.1\r\n$h\r\n", keep => 1);
    $t->close($s);

    $s = $t->request("GET / HTTP/1.1\r\n$h\r\n", keep => 1);
    $t->reset($s);
}

# and many of them, so that a group's room is checked, not only the
# room left over by the totals

for my $i (1 .. 150) {
    for my $c ($i <= 100 ? "\x01" : (), '"', '\\') {
        my $h = "Host: keyed.example\r\nX-Key: " . ($c x 254)
            . sprintf("%02d", $i) . "\r\n";

        $t->request("GET / HTTP/1.1\r\n${h}Connection: close\r\n\r\n");
        $t->request("GET / HTTP/1.0\r\n$h\r\n");
        $t->close($t->request("GET / HTTP/1.1\r\n$h\r\n", keep => 1));
        $t->reset($t->request("GET / HTTP/1.1\r\n$h\r\n", keep => 1));
    }
}

$t->settled;

# the whole of each response: every value in each format, and its end
# (the module sets Content-Length from what it wrote, so a response cut
# short would still match it)

my %values;

for my $format (qw(text json prometheus)) {
    my $r = $t->http_get("/tw_status?format=$format",
                         port => $t->port('PORT_STATUS'));
    my $body = $r->{body} // '';
    is($r->{status}, 200, "$format: worst-case names");
    ok(eval { decode('UTF-8', $body,
                     Encode::FB_CROAK | Encode::LEAVE_SRC); 1 },
       "$format: valid UTF-8");

    if ($format eq 'json') {
        my $j = eval { JSON::PP->new->utf8->decode($body) };
        ok($j, 'json: parses') or diag($@);
        $values{json} = scalar @{ $j->{keys} // [] };
        like($body, qr/\}\n?\z/, 'json: ends with its object');

    } elsif ($format eq 'text') {
        $values{text} = () = $body =~ /^key "/mg;
        # the last group (no overflow here): its cells add up to it

        my ($closed, $cells) = $body =~ /\nkey\ "[^\n]*":\ requests\ \d+,
                                         \ closed\ (\d+);\ [^\n]*\n
                                         ((?:\ {4}\S[^\n]*\n)*)\z/x;
        my $sum = 0;
        $sum += $_ for ($cells // '') =~ /(\d+)$/mg;
        ok(defined $closed && $closed > 0 && $sum == $closed,
           'text: ends with the last value, whole');

    } else {
        $values{prometheus} =
            () = $body =~ /^nginx_tw_key_requests_total\{/mg;
        like($body, qr/^\#\ TYPE\ nginx_tw_key_overflow_connections_closed
                        _total\ counter\n
                        (?:nginx_tw_key_overflow_connections_closed_total
                           \{[^}]*\}\ \d+\n)*\z/mx,
             'prometheus: ends with the overflow, the last family');
    }
}

# 4 values at their longest, and 100 x 3 + 50 x 2 of 256 bytes: as many
# as the zone holds, the rest in the overflow
cmp_ok($values{json}, '>=', 300, "json: $values{json} values");
is($values{text}, $values{json}, 'text: every value');
is($values{prometheus}, $values{json}, 'prometheus: every value');

$st = status_strict();
$keys = key_requests($st);
is($keys->{"\x01" x 256}, 4, 'control characters: every request');
is(scalar(grep { $_->{name} eq 'caf\xE9.example' } @{ $st->{servers} }),
   1, 'a server name with a byte that is not UTF-8: \xNN in its place');
is(scalar(grep { $_->{name} eq 'caf\xE8.example' } @{ $st->{servers} }),
   1, 'and one that differs only in that byte: apart');
is(scalar(grep { $_->{name} eq 'unix.example'
                 && $_->{listen} eq "unix:$t->{prefix}/s\\xFF\x01q.sock" }
          @{ $st->{servers} }),
   1, 'a UNIX path with a byte that is not UTF-8: \xNN in its place')
    or diag(explain([map { $_->{listen} } @{ $st->{servers} }]));

# UNIX sockets share one entry of nginx's list of ports, which comes here
# before the server's TCP port: the label is the TCP address, counted

$t->request(get(undef, host => 'mixed.example'), port => $t->port('PORT_3'));
$t->settled;
my ($mixed) = grep { $_->{name} eq 'mixed.example' }
    @{ $t->status->{servers} };
is($mixed->{listen}, '127.0.0.1:' . $t->port('PORT_3'),
   'a server with a UNIX socket and a TCP address: labelled by the TCP one');
is($mixed->{requests}, 1, 'and its request counted there');

is(scalar(grep { $_->{key} eq '"' x 256 && keys %{ $_->{reasons} } >= 3 }
          @{ $st->{keys} }), 1, 'quotes: several cells');

# two servers with one label: one entry, both servers' traffic

my $before = $t->status;
$t->request(get(undef, host => 'dup.example'), port => $t->port('PORT_1'));
$t->request(get(undef, host => 'other.example'), port => $t->port('PORT_1'));
$t->settled;

$st = $t->status;
my @dup = grep { $_->{name} eq 'dup.example' } @{ $st->{servers} };
is(scalar @dup, 1, 'same label: one entry');

my ($old) = grep { $_->{name} eq 'dup.example' } @{ $before->{servers} };
is($dup[0]{requests} - $old->{requests}, 2, 'same label: both requests');
is($dup[0]{reasons}{client_close}{server}
   - $old->{reasons}{client_close}{server}, 2, 'same label: both closes');

$prom = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
my @series = $prom =~ /^nginx_tw_server_requests_total\{server="dup\.example"/mg;
is(scalar @series, 1, 'same label: one Prometheus series');

$text = $t->status_text;
my @lines = $text =~ /^server "dup\.example"/mg;
is(scalar @lines, 1, 'same label: one text entry');

# a regular expression keeps its "~": a plain name of the same characters
# is another server

{
    my $b = $t->status;
    my %req = map { $_->{name} => $_->{requests} } @{ $b->{servers} };

    for my $host ('aXexample', 'a.example', 'a.example') {
        $t->request(get(undef, host => $host), port => $t->port('PORT_4'));
    }
    $t->settled;

    my %now = map { $_->{name} => $_->{requests} } @{ $t->status->{servers} };
    is(($now{'~a.example'} // 0) - ($req{'~a.example'} // 0), 1,
       'a regular expression, "~" and all: its request');
    is(($now{'a.example'} // 0) - ($req{'a.example'} // 0), 2,
       'a plain name of the same characters: its own entry');
}

# a reset takes the shared block once: the period shows the traffic since

reset_counters();
$t->request(get(undef, host => 'dup.example'), port => $t->port('PORT_1'));
$t->settled;

$resp = $t->http_get('/tw_status?since=reset&format=json',
                     port => $t->port('PORT_STATUS'));
($old) = grep { $_->{name} eq 'dup.example' }
         @{ JSON::PP->new->decode($resp->{body})->{servers} };
is($old->{requests}, 1, 'same label: one request since the reset');

$t->done;
