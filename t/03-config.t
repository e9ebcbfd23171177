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

$t->conf_error_ok(conf('', '', 'tw_status; tw_status;'),
    qr/"tw_status" directive is duplicate/, 10, 'tw_status twice');

# another content handler in the same location: in either order, nginx
# would serve only one of the two

$t->conf_error_ok(conf('', '', 'proxy_pass http://127.0.0.1:1; tw_status;'),
    qr/"tw_status" directive conflicts with another content handler of this/,
    10, 'proxy_pass, then tw_status');

$t->conf_error_ok(conf('', '', 'tw_status; proxy_pass http://127.0.0.1:1;'),
    qr/"tw_status" conflicts with another content handler of its location/,
    10, 'tw_status, then proxy_pass');

$t->conf_error_ok(conf('', '', 'tw_status; tw_status_kernel maybe;'),
    qr/invalid value "maybe" in "tw_status_kernel" directive, it must be "on" or "off"/,
    10, 'tw_status_kernel maybe');

# the same in an included file: the message names that file

{
    $t->write_file('inc.conf', "location /i {\n"
                   . "    tw_status; proxy_pass http://127.0.0.1:1;\n}\n");
    $t->write_conf(conf('', 'include inc.conf;', ''));
    my ($rc, $out) = $t->nginx_t;
    my $where = $t->prefix . '/inc.conf:2';
    ok($rc != 0, 'included tw_status, then proxy_pass: nginx -t fails');
    like($out, qr/conflicts with another content handler of its location in \Q$where\E(?!\d)/,
         "included tw_status, then proxy_pass: at $where");
}

my $formats = 'invalid value "xml" in "tw_status_format" directive,'
    . ' it must be "text", "json" or "prometheus"';

$t->conf_error_ok(conf('tw_status_format xml;', '', ''),
    qr/\Q$formats\E/, 5, 'tw_status_format xml');

$t->conf_error_ok(conf('', 'tw_status_format json;',
                       'tw_status_format text; tw_status_format json;'),
    qr/"tw_status_format" directive is duplicate/, 10,
    'tw_status_format twice');

$t->conf_error_ok(conf('tw_key_max -1;', '', ''),
    qr/"tw_key_max" directive invalid number/, 5, 'tw_key_max -1');

# and a good one passes

$t->write_conf(conf('tw on;', 'tw off;', 'tw_status;'));
my ($rc, $out) = $t->nginx_t;
is($rc, 0, 'a good configuration passes nginx -t') or diag($out);

done_testing;
