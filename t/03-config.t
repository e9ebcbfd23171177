#!/usr/bin/perl

# Bad directive arguments fail "nginx -t" with a plain message and the
# file:line of the mistake.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new;

sub conf {
    my ($http, $server, $location) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        $server
        location / {
            $location
        }
    }
}
EOF
}

# the line numbers: http 5, server 8, location 10

$t->conf_error_ok(conf('tw maybe;', '', ''),
    qr/invalid value "maybe" in "tw" directive, it must be "on" or "off"/,
    5, 'tw maybe');

$t->conf_error_ok(conf('', 'tw on off;', ''),
    qr/invalid number of arguments in "tw" directive/, 8, 'tw on off');

$t->conf_error_ok(conf('', '', 'tw off;'),
    qr/"tw" directive is not allowed here/, 10, 'tw in a location');

$t->conf_error_ok(conf('', '', 'tw_status json;'),
    qr/invalid number of arguments in "tw_status" directive/, 10,
    'tw_status with an argument');

$t->conf_error_ok(conf('', 'tw_status;', ''),
    qr/"tw_status" directive is not allowed here/, 8,
    'tw_status in a server');

$t->conf_error_ok(conf('tw off; tw on;', '', ''),
    qr/"tw" directive is duplicate/, 5, 'tw twice');

# and a good one passes

$t->write_conf(conf('tw on;', 'tw off;', 'tw_status;'));
my ($rc, $out) = $t->nginx_t;
is($rc, 0, 'a good configuration passes nginx -t') or diag($out);

done_testing;
