#!/usr/bin/perl

# The module in nginx's own default build, less what needs a library:
# build/minimal/nginx ("make minimal") has no TLS, no HTTP/2, no PCRE and
# no gzip.  Whatever the module does only with one of them is left out at
# compile time; the rest counts as in the full build.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $nginx = TwTest->repo . '/build/minimal/nginx';

my $t = TwTest->new(netns => 1, binary => $nginx, module => undef);
$t->need_netns;

plan skip_all => 'the suite runs against another nginx'
    . " ($ENV{TEST_NGINX_BINARY})" if $ENV{TEST_NGINX_BINARY};

ok(-x $nginx, "$nginx is built") or BAIL_OUT('run "make minimal" first');

my $v = `$nginx -V 2>&1`;
unlike($v, qr/--with-http_(?:ssl|v2)_module/, 'built without TLS and HTTP/2');
like($v, qr/--without-pcre/, 'built without PCRE');

# tw_key on a map without regexes: the module's keys need no PCRE; and
# no "return" either, which is the rewrite module's

$t->write_file('html/index.html', "ok\n");

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 1s;
    map $http_x_client $tw_client {
        probe    probe;
        default  other;
    }
    tw_key $tw_client;
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name minimal;
        location / { root %%PREFIX%%/html; }
    }
    %%STATUS_SERVER%%
}
EOF

my ($rc, $out) = $t->nginx_t;
is($rc, 0, 'nginx -t') or diag($out);

$t->run;

$t->case_ok(name => 'Connection: close', n => 3,
            run => sub {
                $t->request("GET / HTTP/1.1\r\nHost: x\r\n"
                            . "X-Client: probe\r\nConnection: close\r\n\r\n");
            },
            expect => { 'client_close/server' => 3 },
            tw_server => 3, tw_client => 0);

$t->case_ok(name => 'keepalive_timeout', n => 2,
            run => sub {
                my $s = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                    keep => 1);
                die "no keep-alive\n" unless $s;
                my $how = $t->wait_close($s, timeout => 5);
                die "nginx did not close: $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'keepalive_timeout/server' => 2 },
            tw_server => 2, tw_client => 0);

$t->case_ok(name => 'client closes an idle connection', n => 2,
            run => sub {
                my $s = $t->request("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                    keep => 1);
                die "no keep-alive\n" unless $s;
                $t->close($s);
            },
            expect => { 'client_idle/client' => 2 },
            tw_server => 0, tw_client => 2);

# the breakdowns: the server's block and the map's two values

my $st = $t->status;
my ($srv) = grep { $_->{name} eq 'minimal' } @{ $st->{servers} };
ok($srv, 'the server has its block') or diag(explain($st->{servers}));
is($srv && $srv->{reasons}{client_close}{server}, 3,
   'its client_close closes');
is($srv && $srv->{requests}, 7, 'its requests');

my %keys = map { $_->{key} => $_ } @{ $st->{keys} };
is($keys{probe} && $keys{probe}{reasons}{client_close}{server}, 3,
   'tw_key "probe": its closes');
is($keys{other} && $keys{other}{requests}, 4, 'tw_key "other": its requests');

$t->done;
