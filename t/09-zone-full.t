#!/usr/bin/perl

# A zone too small for every server: nginx starts, logs one warning, the
# servers that did not fit are counted in the totals only, and nothing
# is lost; new tw_key values go to overflow with one more warning.
# tw_zone_size below 128k is refused.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

my $n = 80;
my $servers = join '', map {
    "    server { listen 127.0.0.1:%%PORT%%; server_name s$_.example;"
    . " location / { return 200 \"$_\\n\"; } }\n"
} 1 .. $n;

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_zone_size 128k;
    tw_key \$http_x_client;
    tw_key_max 1000;
$servers
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $st = $t->status;
my $fit = scalar @{ $st->{servers} };
ok($fit > 0 && $fit < $n, "$fit of the $n servers fit and are listed");

# at the error level, which nginx's default error_log shows
my $at_error = qr/\[error\] \d+#\d+: (?:\*\d+ )?/;

like($t->error_log, qr/${at_error}tw zone is full: server "s\d+\.example"/,
     'the zone being full is logged, at a level nginx logs by default');
is(scalar(() = $t->error_log =~ /tw zone is full: server/g), 1, 'once');

# one close on every server: the totals have them all
for my $i (1 .. $n) {
    $t->request("GET / HTTP/1.1\r\nHost: s$i.example\r\n"
                . "Connection: close\r\n\r\n");
}

my $c = $t->settled;
is($c->{'client_close/server'}, $n, "the totals count all $n");
$t->conservation_ok($c);

$st = $t->status;
my $broken_down = 0;
$broken_down += $_->{closed} for @{ $st->{servers} };
is($broken_down, $fit,
   "the $fit listed servers have their close, the rest are in the totals"
   . ' only');

# keys in a full zone: counted as overflow, one more warning, totals right

my $c0 = $t->settled;
for my $i (1 .. 40) {
    $t->request("GET / HTTP/1.1\r\nHost: s1.example\r\nX-Client: c$i\r\n"
                . "Connection: close\r\n\r\n");
}
$c = $t->settled;
$t->moved_ok($c0, $c, { 'client_close/server' => 40 },
             'keys in a full zone: all 40 closes counted');
$st = $t->status;
my $kept = 0;
$kept += $_->{closed} for @{ $st->{keys} };
is($kept + $st->{keys_overflow}{closed}, 40,
   "keys: the 40 closes with a key value, $kept in values, the rest in"
   . ' overflow (an empty value is no key)');
ok($st->{keys_overflow}{closed} > 0, 'overflow took the ones with no room');
is(scalar(() = $t->error_log
          =~ /${at_error}tw zone is full: new tw_key values are counted/g),
   1, 'one message for keys');

ok($t->reload, 'a reload');
is(scalar(() = $t->error_log =~ /tw zone is full: server/g), 1,
   'still one warning after a reload');

$t->conf_error_ok(<<'EOF', qr/"tw_zone_size" directive must be at least 128k/,
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_zone_size 10k;
}
EOF
    5, 'tw_zone_size 10k');

$t->conf_error_ok(<<'EOF', qr/"tw_zone_size" directive must be at most 1024m/,
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    tw_zone_size 100000m;
}
EOF
    5, 'tw_zone_size 100000m');

$t->done;
