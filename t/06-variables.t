#!/usr/bin/perl

# Access-log variables: $tw_closer and $tw_reason for the request after
# which its connection ends (empty, "-" in the log, for the others),
# $tw_conn_requests and $tw_conn_time for every request.  Each logged
# close must be the one the counters record.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Socket qw(IPPROTO_TCP);
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format tw '$request_uri $status $tw_closer $tw_reason'
                  ' $tw_conn_requests $tw_conn_time';
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        access_log %%PREFIX%%/tw.log tw;
        location / { return 200 "ok\n"; }
        location = /drop { return 444; }
        location /two { keepalive_requests 2; return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $c0 = $t->settled;

# three requests on one connection, then the client closes it
my $s = $t->connect;
for my $i (1 .. 3) {
    $t->send_raw($s, "GET /ka$i HTTP/1.1\r\nHost: x\r\n\r\n");
    $t->read_response($s) or die "no response\n";
}
$t->close($s);

$t->request("GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$t->request("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");

$s = $t->connect;
for my $i (1 .. 2) {
    $t->send_raw($s, "GET /two$i HTTP/1.1\r\nHost: x\r\n\r\n");
    $t->read_response($s) or die "no response\n";
}
$t->wait_close($s);
$t->close($s);

# HTTP/1.0 with the FIN in the same segment: the client closes first
$s = $t->connect;
setsockopt($s, IPPROTO_TCP, eval { Socket::TCP_CORK() } // 3, 1);
$t->send_raw($s, "GET /halfclose HTTP/1.0\r\n\r\n");
$t->half_close($s);
$t->read_response($s);
$t->wait_close($s);
$t->close($s);

# a partial request that times out: 408, nginx closes
$s = $t->connect;
$t->send_raw($s, "GET /partial HTTP/1.1\r\nHost: x\r\n");
$t->wait_close($s, timeout => 5);
$t->close($s);

my $c1 = $t->settled;

my %log;
wait_until(sub {
    %log = map { (split ' ', $_, 2)[0] => [split ' '] }
        split /\n/, $t->read_file('tw.log') // '';
    return keys %log == 9;
});

sub logged {
    my ($uri, $closer, $reason, $n, $name) = @_;
    my $l = $log{$uri};
    ok($l, "$name: logged") or return;
    is("$l->[2] $l->[3]", "$closer $reason", "$name: \$tw_closer \$tw_reason");
    is($l->[4], $n, "$name: \$tw_conn_requests");
    like($l->[5], qr/^\d+\.\d{3}$/, "$name: \$tw_conn_time");
}

logged('/ka1', '-', '-', 1, 'keep-alive, first');
logged('/ka2', '-', '-', 2, 'keep-alive, second');
logged('/ka3', '-', '-', 3, 'keep-alive, third (the client closes later)');
logged('/close', 'server', 'client_close', 1, 'Connection: close');
logged('/drop', 'server', 'closed_by_config', 1, 'return 444');
logged('/two1', '-', '-', 1, 'keepalive_requests 2, first');
logged('/two2', 'server', 'keepalive_requests', 2,
       'keepalive_requests 2, second');
logged('/halfclose', 'client', 'http10', 1, 'half-closed HTTP/1.0');
logged('/partial', 'server', 'request_header_timeout', 1, 'partial request');

# the log and the counters tell the same story
my %moved;
for my $l (values %log) {
    $moved{"$l->[3]/$l->[2]"}++ if $l->[2] ne '-';
}
$moved{'client_idle/client'}++;        # /ka3's connection, not in the log
$t->moved_ok($c0, $c1, \%moved, 'the counters moved as the log says');

like($log{'/ka1'}[5] . $log{'/ka3'}[5], qr/^\d+\.\d{3}\d+\.\d{3}$/,
     'connection times');
ok($log{'/ka3'}[5] >= $log{'/ka1'}[5], 'connection time grows');

$t->done;
