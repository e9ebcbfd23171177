#!/usr/bin/perl

# Advice: each rule speaks when its reason passes its share of the closes
# where nginx sent the first FIN (at least 20 of them), and stays quiet
# otherwise.  Every scenario runs in a period of its own (POST resets,
# ?since=reset shows the period and its advice).

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
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name main.example;
        location / { return 200 "ok\n"; }
        location = /drop { return 444; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name two.example;
        keepalive_requests 2;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name off.example;
        keepalive_timeout 0;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name idle.example;
        keepalive_timeout 1s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name time.example;
        keepalive_time 1s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name keyed.example;
        tw_key $http_x_client;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name reset.example;
        reset_timedout_connection on;
        location / { return 444; }
    }
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; tw_status_reset on; }
    }
}
EOF

$t->run;

my $sp = $t->port('PORT_STATUS');

sub status_call {
    my ($method, $path) = @_;
    my $s = $t->connect(port => $sp);
    $t->send_raw($s, "$method $path HTTP/1.1\r\nHost: x\r\n"
                 . "Connection: close\r\nContent-Length: 0\r\n\r\n");
    my $r = $t->read_response($s);
    $t->wait_close($s);
    $t->close($s);
    return $r;
}

# runs the traffic in a period of its own, returns that period's advice
# as { "rule subject" => advice }
sub period {
    my ($traffic) = @_;
    status_call('POST', '/tw_status?format=json');
    $traffic->();
    wait_until(sub { $t->counts->{open} == 0 }, timeout => 5);
    my $st = decode_json(status_call('GET',
                         '/tw_status?since=reset&format=json')->{body});
    return { map { ("$_->{rule} $_->{subject}" => $_) } @{ $st->{advice} } };
}

sub req {
    my ($host, %o) = @_;
    return "GET " . ($o{path} // '/') . " HTTP/" . ($o{v} // '1.1')
        . "\r\nHost: $host\r\n"
        . ($o{close} ? "Connection: close\r\n" : '')
        . ($o{client} ? "X-Client: $o{client}\r\n" : '') . "\r\n";
}

sub many {
    my ($n, $raw) = @_;
    $t->request($raw) for 1 .. $n;
}

# n connections at once, each left idle or silent until nginx closes it
sub idle {
    my ($n, $raw) = @_;
    my @s = map { $raw ? $t->request($raw, keep => 1) : $t->connect } 1 .. $n;
    $t->close_all(\@s, expect => 'eof', timeout => 5);
}

sub with_requests {
    my ($n, $k) = @_;
    for (1 .. $n) {
        my $s = $t->connect;
        for (1 .. $k) {
            $t->send_raw($s, req('two.example'));
            $t->read_response($s);
        }
        $t->wait_close($s);
        $t->close($s);
    }
}

sub says {
    my ($advice, $key, $name) = @_;
    ok($advice->{$key}, "$name: advises $key") or diag(explain($advice));
    return $advice->{$key};
}

sub quiet {
    my ($advice, $key, $name) = @_;
    ok(!$advice->{$key}, "$name: no $key advice") or diag(explain($advice));
}

# keepalive_requests

my $a = period(sub { with_requests(25, 2) });
my $x = says($a, 'keepalive_requests two.example', 'keepalive_requests 2');
like($x->{text}, qr/^100% of nginx's closes on "two\.example" are keepalive_requests: connections served their 2 requests \(keepalive_requests\) and nginx closed them; raise keepalive_requests$/,
     'keepalive_requests: the text');
is($x->{share}, 100, 'keepalive_requests: share');

$a = period(sub {
    many(25, req('two.example', close => 1));
    with_requests(3, 2);
});
quiet($a, 'keepalive_requests two.example', '3 of 28');

# keepalive_disabled

$a = period(sub { many(25, req('off.example')) });
says($a, 'keepalive_disabled off.example', 'keepalive_timeout 0');
$a = period(sub {
    many(23, req('off.example', close => 1));
    many(2, req('off.example'));
});
quiet($a, 'keepalive_disabled off.example', '2 of 25');

# keepalive_timeout

$a = period(sub { idle(20, req('idle.example')) });
$x = says($a, 'keepalive_timeout idle.example', 'idle connections');
like($x->{text}, qr/keepalive_timeout \(1000 ms\)/, 'keepalive_timeout: the limit');
$a = period(sub {
    many(20, req('idle.example', close => 1));
    idle(2, req('idle.example'));
});
quiet($a, 'keepalive_timeout idle.example', '2 of 22');

# keepalive_time: a second request after 1 s

sub late_second {
    my ($n) = @_;
    my @s = map { $t->request(req('time.example'), keep => 1) } 1 .. $n;
    select undef, undef, undef, 1.1;
    for my $s (@s) {
        $t->send_raw($s, req('time.example'));
        $t->read_response($s);
    }
    $t->close_all(\@s, expect => 'eof');
}

$a = period(sub { late_second(20) });
says($a, 'keepalive_time time.example', 'keepalive_time 1s');
$a = period(sub {
    many(20, req('time.example', close => 1));
    late_second(2);
});
quiet($a, 'keepalive_time time.example', '2 of 22');

# no_request_timeout: preconnects on the default server

$a = period(sub { idle(20) });
$x = says($a, 'no_request_timeout main.example', 'preconnects');
like($x->{text}, qr/reach\ client_header_timeout\ \(1000\ ms\)
                  .*\ a\ longer\ client_header_timeout/x,
     'no_request_timeout: the timeout, and to raise it');
$a = period(sub { many(20, req('main.example', close => 1)); idle(2) });
quiet($a, 'no_request_timeout main.example', '2 of 22');

# reset_timedout_connection: 444 ends with a FIN where it is off

$a = period(sub { many(20, req('main.example', path => '/drop')) });
says($a, 'reset_timedout_connection main.example', '444 with a FIN');
$a = period(sub { many(20, req('reset.example')) });
quiet($a, 'reset_timedout_connection reset.example',
      '444 with reset_timedout_connection on');

# Connection: close, from a tw_key value or in general

$a = period(sub { many(20, req('keyed.example', close => 1, client => 'elb')) });
$x = says($a, 'key_client_close elb', 'a key sending Connection: close');
like($x->{text}, qr/^key "elb" sends Connection: close in 100% of nginx's closes/,
     'key_client_close: the text');
quiet($a, 'client_close ', 'explained by the key');

$a = period(sub { many(20, req('main.example', close => 1)) });
says($a, 'client_close ', 'Connection: close without a key');
quiet($a, 'key_client_close elb', 'no key involved');

# HTTP/1.0

$a = period(sub { many(20, req('main.example', v => '1.0')) });
says($a, 'http10 ', 'HTTP/1.0 clients');
$a = period(sub {
    many(3, req('main.example', v => '1.0'));
    many(20, req('main.example', close => 1));
});
quiet($a, 'http10 ', '3 of 23');

# error responses

$a = period(sub { many(20, "GET / HTTP/1.1\r\n\r\n") });
says($a, 'error_response ', '400s');
$a = period(sub {
    many(1, "GET / HTTP/1.1\r\n\r\n");
    many(20, req('main.example', close => 1));
});
quiet($a, 'error_response ', '1 of 21');

# fewer than 20 closes by nginx: no advice at all

$a = period(sub { many(19, req('off.example')) });
is(scalar keys %$a, 0, '19 closes: no advice');
quiet($a, 'drain ', 'worker_connections never ran out');

# the text format lists it

status_call('POST', '/tw_status');
many(25, req('off.example'));
$t->settled;
like(status_call('GET', '/tw_status?since=reset')->{body},
     qr/^advice:\n  - 100% of nginx's closes on "off\.example" are keepalive_disabled: /m,
     'text: the advice');

$t->done;
