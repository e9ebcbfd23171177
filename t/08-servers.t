#!/usr/bin/perl

# Per-server breakdown: every close is counted in the server{} of the
# last request on the connection (without a request, the default server
# of its address), labelled by its first server_name and listen address;
# the servers add up to the totals; reloads keep them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

my $conf = <<'EOF';
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name a.example "~^www\d+\.a\.example$";
        location / { return 200 "a\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name b.example;
        keepalive_timeout 0;
        location / { return 200 "b\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name quiet.example;
        tw off;
        location / { return 200 "quiet\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name c.example;
        location / { return 200 "c\n"; }
    }
    %%STATUS_SERVER%%
}
EOF
$t->write_conf($conf);
$t->run;

my $port = $t->port;
my $port1 = $t->port('PORT_1');

sub get {
    my ($host, %o) = @_;
    return "GET / HTTP/1.1\r\nHost: $host\r\n"
        . ($o{close} ? "Connection: close\r\n" : '') . "\r\n";
}

sub servers {
    my %s;
    for my $sv (@{ $t->status->{servers} }) {
        $s{"$sv->{name} $sv->{listen}"} = $sv;
    }
    return \%s;
}

my $st = $t->status;
is_deeply([sort map { "$_->{name} $_->{listen}" } @{ $st->{servers} }],
          ["a.example 127.0.0.1:$port", "b.example 127.0.0.1:$port",
           "c.example 127.0.0.1:$port1"],
          'servers with tw on, labelled by first name and listen address');

# a.example: 3 closes by Connection: close
$t->request(get('a.example', close => 1)) for 1 .. 3;

# b.example: keepalive_timeout 0
$t->request(get('b.example')) for 1 .. 2;

# a connection that starts on a.example and ends on b.example counts
# for b.example, the server of its last request
my $s = $t->connect;
$t->send_raw($s, get('a.example'));
$t->read_response($s);
$t->send_raw($s, get('b.example'));
$t->read_response($s);
$t->wait_close($s);
$t->close($s);

# a regex name of a.example
$t->request(get('www7.a.example', close => 1));

# no request at all: the default server of the address (a.example)
$s = $t->connect;
$t->wait_close($s, timeout => 5);
$t->close($s);

# c.example on its own port, closed by the client
$s = $t->request(get('c.example'), port => $port1, keep => 1);
$t->close($s);

# quiet.example has tw off: excluded, in no server and in no total
my $c0 = $t->settled;
$t->request(get('quiet.example', close => 1)) for 1 .. 2;
my $c1 = $t->settled;
$t->moved_ok($c0, $c1, {}, 'tw off server: no close counted');
is($c1->{excluded} - $c0->{excluded}, 2, 'tw off server: 2 excluded');
is($c1->{accepted}, $c0->{accepted}, 'tw off server: not in accepted');

my $sv = servers();
my $a = $sv->{"a.example 127.0.0.1:$port"};
my $b = $sv->{"b.example 127.0.0.1:$port"};
my $c = $sv->{"c.example 127.0.0.1:$port1"};

is($a->{reasons}{client_close}{server}, 4, 'a: 4 client_close (one by regex name)');
is($a->{reasons}{no_request_timeout}{server}, 1,
   'a: the connection without a request (default server)');
is($a->{closed}, 5, 'a: 5 closed');
is($a->{requests}, 5, 'a: 5 requests (one moved on to b)');
is($b->{reasons}{keepalive_disabled}{server}, 3,
   'b: 3 keepalive_disabled, one begun on a');
is($b->{closed}, 3, 'b: 3 closed');
is($b->{requests}, 3, 'b: 3 requests');
is($c->{reasons}{client_idle}{client}, 1, 'c: the client closed');
is($c->{closed}, 1, 'c: 1 closed');

my $total = $t->status;
my $sum = 0;
$sum += $_->{closed} for values %$sv;
is($sum, $total->{connections}{closed}, 'the servers add up to the total');
for my $r (keys %{ $total->{reasons} }) {
    my $n = 0;
    $n += $_->{reasons}{$r}{total} for values %$sv;
    is($n, $total->{reasons}{$r}{total}, "$r: servers add up")
        if $total->{reasons}{$r}{total};
}

# text and Prometheus show the same

my $text = $t->status_text;
like($text, qr/^server "a\.example" 127\.0\.0\.1:$port: TIME_WAIT now \d+; requests 5, closed 5;/m,
     'text: a.example line');
like($text, qr/^    keepalive_disabled +server +3$/m, 'text: b.example cell');

my $m = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
like($m, qr/^nginx_tw_server_connections_closed_total\{server="b\.example",listen="127\.0\.0\.1:$port",reason="keepalive_disabled",closer="server"\} 3$/m,
     'prometheus: b.example series');
like($m, qr/^nginx_tw_server_requests_total\{server="a\.example",listen="127\.0\.0\.1:$port"\} 5$/m,
     'prometheus: a.example requests');
$t->promtool_ok($m, 'promtool accepts it');

# a reload keeps every server's figures; a renamed server starts anew

(my $renamed = $conf) =~ s/server_name c\.example;/server_name d.example;/;
$t->write_conf($renamed);
ok($t->reload, 'reload with c.example renamed d.example');

$sv = servers();
is($sv->{"a.example 127.0.0.1:$port"}{closed}, 5, 'a kept its figures');
is($sv->{"b.example 127.0.0.1:$port"}{closed}, 3, 'b kept its figures');
ok(!$sv->{"c.example 127.0.0.1:$port1"}, 'c is gone from the list');
is($sv->{"d.example 127.0.0.1:$port1"}{closed}, 0, 'd starts at 0');

# a server on two ports is labelled by the lower, whatever the order of
# nginx's ports: a server added on the other port, before it in the
# configuration, changes neither its label nor its figures

# (not sort: $a and $b are lexicals here)
my ($lo, $hi) = ($t->port('PORT_2'), $t->port('PORT_3'));
($lo, $hi) = ($hi, $lo) if $lo > $hi;
my $two = <<"EOF";
    server {
        listen 127.0.0.1:$hi;
        listen 127.0.0.1:$lo;
        server_name two.example;
        location / { return 200 "two\n"; }
    }
EOF

(my $with_two = $renamed) =~ s/^(http \{\n)/$1$two/m or die 'no http block';
$t->write_conf($with_two);
ok($t->reload, 'reload with two.example on two ports');

$t->request(get('two.example', close => 1), port => $hi) for 1 .. 2;
$t->settled;
$sv = servers();
is($sv->{"two.example 127.0.0.1:$lo"}{closed}, 2,
   'two.example: labelled by its lower port, though listed second');

my $before_two = <<"EOF";
    server {
        listen 127.0.0.1:$hi;
        server_name before.example;
        location / { return 200 "before\n"; }
    }
EOF

(my $with_before = $with_two) =~ s/^(http \{\n)/$1$before_two/m
    or die 'no http block';
$t->write_conf($with_before);
ok($t->reload, 'reload with a server before it on its higher port');

$sv = servers();
is($sv->{"two.example 127.0.0.1:$lo"}{closed}, 2,
   'two.example: the same label, its figures kept');
ok(!$sv->{"two.example 127.0.0.1:$hi"}, 'and no entry under the other');

$t->done;

