#!/usr/bin/perl

# The dynamic module: build/dynamic/ngx_http_tw_module.so ("make dynamic")
# loads into Debian's own /usr/sbin/nginx with load_module and serves
# tw_status with the same counts as the static build.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $nginx = '/usr/sbin/nginx';
my $so = TwTest->repo . '/build/dynamic/ngx_http_tw_module.so';

my $t = TwTest->new(netns => 1, binary => $nginx, module => $so);
$t->need_netns;

plan skip_all => "$nginx not installed (Debian package nginx)"
    unless -x $nginx;

ok(-f $so, "$so is built") or BAIL_OUT('run "make dynamic" first');

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

my ($rc, $out) = $t->nginx_t;
is($rc, 0, 'Debian nginx accepts the module') or diag($out);

$t->run;

like(`$nginx -v 2>&1`, qr{nginx/1\.}, 'it is the packaged nginx');

my $c0 = $t->settled;

for (1 .. 5) {
    $t->http_get('/');
}

my $s = $t->connect;
$t->send_raw($s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
ok($t->read_response($s), 'keep-alive request answered');
$t->close($s);

my $c1 = wait_until(sub {
    my $c = $t->counts;
    return $c->{open} == 0 ? $c : undef;
});

is($c1->{accepted}, 6, 'accepted == 6 connections made');
$t->moved_ok($c0, $c1, { 'client_close/server' => 5,
                         'client_idle/client' => 1 },
             'five server closes, one client close');

like($t->status_text, qr/^ngx_tw /, 'text format');

# the module's header filter in the packaged nginx's chain: a client that
# half-closes with its request has its FIN in first, and nginx's FIN,
# after a lingering close, goes out second (as t/24-lingering.t)

$t->case_ok(name => 'half-close with the request', n => 2,
            run => sub {
                $t->request_half_closed("GET / HTTP/1.0\r\n\r\n");
            },
            expect => { 'http10/client' => 2 },
            tw_server => 0, tw_client => 2);

$t->done;
