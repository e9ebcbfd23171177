#!/usr/bin/perl

# tw_key in its forms: one variable alone ("$name", "${name}"), which the
# module reads as a variable, and any other string, which nginx's script
# engine evaluates; a regex capture; a variable that is not found, and
# one whose evaluation fails, which are empty values as in a string.  A
# request with the value of the connection's request before, or of the
# worker's last lookup, reuses that entry: values that change and come
# back, within a connection and from one to the next, and values made
# valid UTF-8, must still count where they belong.  tw_key "" turns off
# an inherited key.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Cwd ();
use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_key_max 1000;
    server {
        listen 127.0.0.1:%%PORT%%;
        tw_key $http_x_a;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        tw_key "$http_x_a/$http_x_b";
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        tw_key ${http_x_a};
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        tw_key $1;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%%;
        tw_key $realpath_root connection;
        location /bad { root %%PREFIX%%/missing; return 200 "ok\n"; }
        location /good { root %%PREFIX%%; return 200 "ok\n"; }
    }

    # the http level's key below, inherited, and turned off
    server {
        listen 127.0.0.1:%%PORT_5%%;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_6%%;
        tw_key "";
        location / { return 200 "ok\n"; }
    }
    tw_key $http_x_c;

    %%STATUS_SERVER%%
}
EOF

$t->run;

sub get {
    my (%h) = @_;
    my $close = delete $h{close};
    return "GET / HTTP/1.1\r\nHost: x\r\n"
        . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
        . ($close ? "Connection: close\r\n" : '') . "\r\n";
}

sub keys_now {
    my $st = $t->status;
    return ({ map { ($_->{key} => $_) } @{ $st->{keys} } }, $st);
}

# what moved per key value: [requests, client_close by nginx]

sub moved {
    my ($before, $after) = @_;
    my %m;

    for my $k (keys %$after) {
        my $b = $before->{$k} // { requests => 0, reasons => {} };
        my $a = $after->{$k};
        my @d = ($a->{requests} - $b->{requests},
                 ($a->{reasons}{client_close}{server} // 0)
                 - ($b->{reasons}{client_close}{server} // 0));
        $m{$k} = \@d if $d[0] || $d[1];
    }

    return \%m;
}

# one connection, its requests sent one after the other

sub connection {
    my ($port, @requests) = @_;
    my $s = $t->connect(port => $t->port($port));

    for my $r (@requests) {
        $t->send_raw($s, $r);
        $t->read_response($s);
    }

    $t->wait_close($s);
    $t->close($s);
    $t->settled;
}

# a value that changes and comes back on one connection: each request
# counts for its own value, the close for the last request's

{
    my ($before) = keys_now();

    connection('PORT', get('X-A' => 'p'), get('X-A' => 'p'),
               get('X-A' => 'q'), get('X-A' => 'p'),
               get('X-A' => 'r', close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after),
              { p => [3, 0], q => [1, 0], r => [1, 1] },
              'one variable: values that change and come back');
}

{
    my ($before) = keys_now();

    connection('PORT', get('X-A' => 'p'), get('X-A' => 'q'),
               get('X-A' => 'q', close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after), { p => [1, 0], q => [2, 1] },
              'one variable: the close with the value it had last');
}

# a byte that is not UTF-8 is shown as "?": "a\xffb" and "a?b" are one
# value, whichever comes first and however often

{
    my ($before) = keys_now();

    connection('PORT', get('X-A' => "a\xffb"), get('X-A' => "a\xffb"),
               get('X-A' => 'a?b'), get('X-A' => "a\xffb", close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after), { 'a?b' => [4, 1] },
              'made valid UTF-8: one value');
}

{
    my ($before) = keys_now();

    connection('PORT', get('X-A' => "a?c"), get('X-A' => "a\xfec"),
               get('X-A' => "a\xfec", close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after), { 'a?c' => [3, 1] },
              'made valid UTF-8: the clean value first');
}

# a header that is not there: no key, and the close is still counted

{
    my ($before, $sb) = keys_now();

    connection('PORT', get('X-B' => 'p'), get(close => 1));

    my ($after, $sa) = keys_now();

    is_deeply(moved($before, $after), {}, 'not found: no key');
    is($sa->{connections}{closed} - $sb->{connections}{closed}, 1,
       'not found: the close is counted');
}

# a string of two variables: the script engine's value

{
    my ($before) = keys_now();

    connection('PORT_1', get('X-A' => 'p', 'X-B' => 'x'),
               get('X-A' => 'p', 'X-B' => 'x'),
               get('X-A' => 'p', 'X-B' => 'y', close => 1));
    connection('PORT_1', get('X-B' => 'x', close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after),
              { 'p/x' => [2, 0], 'p/y' => [1, 1], '/x' => [1, 1] },
              'two variables: the whole string is the value');
}

# "${name}"

{
    my ($before) = keys_now();

    connection('PORT_2', get('X-A' => 'braced'),
               get('X-A' => 'braced', close => 1));

    my ($after) = keys_now();

    is_deeply(moved($before, $after), { braced => [2, 1] },
              '${name}: the variable');
}

# "$1": a regex capture, which a request without a regex has not

{
    my ($before, $sb) = keys_now();

    connection('PORT_3', get('X-A' => 'x', close => 1));

    my ($after, $sa) = keys_now();

    is_deeply(moved($before, $after), {}, '$1: no key');
    is($sa->{connections}{closed} - $sb->{connections}{closed}, 1,
       '$1: the close is counted');
}

# a variable that fails ($realpath_root of a root that is not there) is
# an empty value, as in a string: with "connection", no key, held for
# the connection

{
    $t->allow_log(qr/realpath\(\) ".*missing" failed/);

    my $get = sub {
        my ($uri, $close) = @_;
        return "GET $uri HTTP/1.1\r\nHost: x\r\n"
            . ($close ? "Connection: close\r\n" : '') . "\r\n";
    };

    my ($before, $sb) = keys_now();

    connection('PORT_4', $get->('/bad'), $get->('/good', 1));

    my ($after, $sa) = keys_now();

    is_deeply(moved($before, $after), {},
              'a variable that fails: no key for the connection');
    is($sa->{connections}{closed} - $sb->{connections}{closed}, 1,
       'a variable that fails: the close is counted');

    ($before) = keys_now();
    connection('PORT_4', $get->('/good', 1));
    ($after) = keys_now();

    my $root = Cwd::abs_path($t->prefix);
    is_deeply(moved($before, $after), { $root => [1, 1] },
              'the same variable, evaluated: its value');
}

# tw_key "" turns off the key a server inherits

{
    my ($before, $sb) = keys_now();

    connection('PORT_5', get('X-C' => 'inherited', close => 1));
    connection('PORT_6', get('X-C' => 'off', close => 1));

    my ($after, $sa) = keys_now();

    is_deeply(moved($before, $after), { inherited => [1, 1] },
              'tw_key "": the inherited key is off');
    is($sa->{connections}{closed} - $sb->{connections}{closed}, 2,
       'tw_key "": the close is counted');
}

$t->done;
