#!/usr/bin/perl

# The Prometheus rules shipped in docs/prometheus/: promtool checks them
# and runs their unit tests, and every metric they use is one nginx
# really exports.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'promtool (Debian package prometheus) is not installed'
    unless TwTest::have('promtool');

my $dir = TwTest->repo . '/docs/prometheus';

my $out = `cd $dir && promtool check rules ngx_tw.rules.yml 2>&1`;
is($?, 0, 'promtool check rules') or diag($out);

$out = `cd $dir && promtool test rules ngx_tw.rules.test.yml 2>&1`;
is($?, 0, 'promtool test rules') or diag($out);

# the metrics the rules read are the module's

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

$t->run;

my $m = $t->http_get('/tw_status?format=prometheus',
                     port => $t->port('PORT_STATUS'))->{body};
my %exported = map { $_ => 1 } $m =~ /^# TYPE (\S+) /mg;

open my $fh, '<', "$dir/ngx_tw.rules.yml" or die $!;
my $rules = do { local $/; <$fh> };
my %used = map { $_ => 1 } $rules =~ /(?<![:\w])(nginx_tw_[a-z_]+)(?![:\w])/g;

ok(scalar keys %used, 'the rules use module metrics');
ok($exported{$_}, "$_ is exported") for sort keys %used;

$t->done;
