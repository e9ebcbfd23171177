#!/usr/bin/perl

# tw_key: closes counted by the value of a user-defined key (here a map
# of the User-Agent with PCRE2 regexes), for the last request on each
# connection, or with "connection" for its first; at most tw_key_max
# values, the rest in "overflow".

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
    map $http_user_agent $tw_client {
        ~*kube-probe          probe;
        ~*ELB-HealthChecker   elb;
        ~*^Mozilla/           browser;
        default               other;
    }
    map $uri $tw_key_or_none {
        /nokey    "";
        default   $tw_client;
    }
    tw_key $tw_key_or_none;
    tw_key_max 3;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        tw_key $tw_client connection;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name a;
        tw_key $tw_client connection;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name b;
        tw off;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

sub get {
    my ($ua, %o) = @_;
    return "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: $ua\r\n"
        . ($o{close} ? "Connection: close\r\n" : '') . "\r\n";
}

# the load balancer's health checks say Connection: close
$t->request(get('ELB-HealthChecker/2.0', close => 1)) for 1 .. 4;

# kube probes keep the connection; the probe closes it
for (1 .. 2) {
    my $s = $t->request(get('kube-probe/1.29'), keep => 1);
    $t->close($s);
}

# a browser connection whose last request comes from the ELB agent
my $s = $t->connect;
$t->send_raw($s, get('Mozilla/5.0'));
$t->read_response($s);
$t->send_raw($s, get('ELB-HealthChecker/2.0', close => 1));
$t->read_response($s);
$t->wait_close($s);
$t->close($s);

# a browser alone
$t->request(get('Mozilla/5.0', close => 1));

# a fourth value, past tw_key_max 3: overflow
$t->request(get('curl/8', close => 1)) for 1 .. 2;

# an empty value is no key at all
$t->request("GET /nokey HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

$t->settled;

my $st = $t->status;
my %k = map { ($_->{key} => $_) } @{ $st->{keys} };

is_deeply([sort keys %k], [qw(browser elb probe)], 'three key values');
is($k{elb}{reasons}{client_close}{server}, 5,
   'elb: 5 client_close by nginx (one connection began as a browser)');
is($k{elb}{closed}, 5, 'elb: 5 closed');
is($k{elb}{requests}, 5, 'elb: 5 requests');
is($k{probe}{reasons}{client_idle}{client}, 2, 'probe: 2 closed by it');
is($k{browser}{closed}, 1, 'browser: 1 closed');
is($k{browser}{requests}, 2, 'browser: 2 requests');
is($st->{keys_overflow}{closed}, 2, 'overflow: the 2 of the 4th value');
is($st->{keys_overflow}{requests}, 2, 'overflow: 2 requests');

my $sum = $st->{keys_overflow}{closed};
$sum += $_->{closed} for values %k;
is($sum + 1, $st->{connections}{closed},
   'the keys add up to the total, less the close with an empty key');

# the same in text and Prometheus

my $text = $t->status_text;
like($text, qr/^key "elb": requests 5, closed 5;/m, 'text: elb');
like($text, qr/^key overflow \(values past tw_key_max\): requests 2,/m,
     'text: overflow');

my $m = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
like($m, qr/^nginx_tw_key_connections_closed_total\{key="elb",reason="client_close",closer="server"\} 5$/m,
     'prometheus: elb');
like($m, qr/^nginx_tw_key_overflow_connections_closed_total\{reason="client_close",closer="server"\} 2$/m,
     'prometheus: overflow');
$t->promtool_ok($m, 'promtool accepts it');

# "connection": the value of the first request holds for the connection,
# its requests and its close

{
    my %before = map { ($_->{key} => $_) } @{ $t->status->{keys} };

    my $s = $t->connect(port => $t->port('PORT_1'));
    $t->send_raw($s, get('Mozilla/5.0'));
    $t->read_response($s);
    $t->send_raw($s, get('ELB-HealthChecker/2.0', close => 1));
    $t->read_response($s);
    $t->wait_close($s);
    $t->close($s);

    $t->settled;

    my %after = map { ($_->{key} => $_) } @{ $t->status->{keys} };

    is($after{browser}{requests} - $before{browser}{requests}, 2,
       'connection: both requests count for the first value');
    is($after{browser}{reasons}{client_close}{server}
       - ($before{browser}{reasons}{client_close}{server} // 0), 1,
       'connection: so does the close');
    is($after{elb}{requests} - $before{elb}{requests}, 0,
       'connection: nothing for the second value');
    is($after{elb}{closed} - $before{elb}{closed}, 0,
       'connection: its close neither');
}

# a request in a server with "tw off" ends the hold: the next request
# evaluates the key again

{
    my %before = map { ($_->{key} => $_) } @{ $t->status->{keys} };
    my $req = sub {
        my ($host, $ua, $close) = @_;
        return "GET / HTTP/1.1\r\nHost: $host\r\nUser-Agent: $ua\r\n"
            . ($close ? "Connection: close\r\n" : '') . "\r\n";
    };

    my $s = $t->connect(port => $t->port('PORT_2'));
    $t->send_raw($s, $req->('a', 'Mozilla/5.0'));
    $t->read_response($s);
    $t->send_raw($s, $req->('b', 'kube-probe/1.29'));
    $t->read_response($s);
    $t->send_raw($s, $req->('a', 'ELB-HealthChecker/2.0', 1));
    $t->read_response($s);
    $t->wait_close($s);
    $t->close($s);

    $t->settled;

    my %after = map { ($_->{key} => $_) } @{ $t->status->{keys} };
    my %moved = map {
        ($_ => $after{$_}{requests} - ($before{$_}{requests} // 0))
    } keys %after;

    is_deeply(\%moved, { browser => 1, elb => 1, probe => 0 },
              'connection: the value again after a "tw off" request');
    is($after{elb}{reasons}{client_close}{server}
       - $before{elb}{reasons}{client_close}{server}, 1,
       'connection: the close counts for the new value');
}

# bad arguments

for my $case (['tw_key_max 10001;', qr/"tw_key_max" directive must be between 1 and 10000/],
              ['tw_key_max 0;', qr/"tw_key_max" directive must be between 1 and 10000/],
              ['tw_key;', qr/invalid number of arguments in "tw_key" directive/],
              ['tw_key a b c;', qr/invalid number of arguments in "tw_key" directive/],
              ['tw_key $host request;', qr/invalid parameter "request", it can only be "connection"/],
              ['tw_key $host; tw_key $uri;', qr/"tw_key" directive is duplicate/],
              ['tw_key_max many;', qr/"tw_key_max" directive invalid number/],
              ['tw_key $no_such;',
               qr/unknown "no_such" variable in "tw_key" directive/],
              ['tw_key "${host}-$Nope$1";',
               qr/unknown "Nope" variable in "tw_key" directive/])
{
    $t->conf_error_ok(<<"EOF", $case->[1], 5, $case->[0]);
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    $case->[0]
}
EOF
}

# the variables nginx finds pass: by a prefix, whatever its case, one
# that "set" makes in another server, one from a map further down, one of
# several in a key, next to a capture

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        tw_key "$Cookie_a.${arg_b}:$1$host$tw_late";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name set.example;
        tw_key $set_elsewhere;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name other.example;
        set $set_elsewhere a;
    }
    map $uri $tw_late { default x; }
}
EOF
my ($rc, $out) = $t->nginx_t;
is($rc, 0, 'tw_key with variables nginx knows passes nginx -t') or diag($out);

$t->done;
