#!/usr/bin/perl

# CONNECT tunnels (nginx 1.31.0 and later, tunnel_pass): nginx relays
# bytes both ways, as for an upgraded connection, until one side ends
# the tunnel; the close counts as "upgrade", with the closer that ended
# it.  A CONNECT nginx refuses, cannot take to its destination or asks
# credentials for is an error response.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

plan skip_all => 'CONNECT tunnels need nginx 1.31.0 or later with'
    . ' ngx_http_tunnel_module'
    unless `@{[ $t->binary ]} -V 2>&1` !~ /--without-http_tunnel_module/
        && $t->version_at_least('1.31.0');

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT%%;
        tunnel_pass 127.0.0.1:%%PORT_2%%;
        tunnel_read_timeout 30s;
    }

    # no tunnel_pass: CONNECT is not allowed here
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / { return 200 "ok\n"; }
    }

    # nothing listens where this tunnel goes
    server {
        listen 127.0.0.1:%%PORT_3%%;
        tunnel_pass 127.0.0.1:%%PORT_4%%;
    }

    # a forward proxy that asks for credentials
    server {
        listen 127.0.0.1:%%PORT_5%%;
        tunnel_pass 127.0.0.1:%%PORT_2%%;
        auth_basic "proxy";
        auth_basic_user_file %%PREFIX%%/htpasswd;
    }
    %%STATUS_SERVER%%
}
EOF

# the destination: echoes what comes through the tunnel, then ends the
# tunnel itself ("end") or waits for the client to end it
$t->backend(port => $t->port('PORT_2'), handler => sub {
    my ($c, $data) = @_;
    syswrite($c, $data);
    if ($data =~ /^end/) {
        select undef, undef, undef, 0.1;
    } else {
        1 while sysread($c, my $buf, 4096);
    }
});

$t->write_file('htpasswd', 'user:' . crypt('secret', 'ab') . "\n");

$t->run;

my $n = 3;
my $connect = sprintf "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d"
    . "\r\n\r\n", $t->port('PORT_2'), $t->port('PORT_2');

# opens a tunnel, sends a line through it and reads the echo
sub tunnel {
    my ($line) = @_;
    my $s = $t->connect;
    $t->send_raw($s, $connect);
    my $r = $t->read_response($s, head => 1);
    die "no 200 for CONNECT\n" unless $r && $r->{status} == 200;
    $t->send_raw($s, "$line\r\n\r\n");
    my $echo = '';
    while (length $echo < length "$line\r\n\r\n") {
        sysread($s, $echo, 4096, length $echo) or die "no echo\n";
    }
    die "echo: $echo\n" unless $echo eq "$line\r\n\r\n";
    return $s;
}

$t->case_ok(name => 'tunnel ended by its destination', n => $n,
            run => sub {
                my $s = tunnel('end');
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'upgrade/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'tunnel ended by the client', n => $n,
            run => sub {
                my $s = tunnel('wait');
                $t->close($s);
            },
            expect => { 'upgrade/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'CONNECT where it is not allowed', n => $n,
            port => $t->port('PORT_1'),
            run => sub {
                my $r = $t->request($connect, port => $t->port('PORT_1'));
                die "expected 405\n" unless $r && $r->{status} == 405;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'tunnel to a closed port (502)', n => $n,
            port => $t->port('PORT_3'),
            run => sub {
                my $r = $t->request($connect, port => $t->port('PORT_3'));
                die "expected 502\n" unless $r && $r->{status} == 502;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the challenge (407; 401 before nginx 1.31.3) ends the connection too:
# a CONNECT never gets keep-alive, so an authenticating forward proxy
# closes once for every challenge

$t->case_ok(name => 'CONNECT without credentials', n => $n,
            port => $t->port('PORT_5'),
            run => sub {
                my $r = $t->request($connect, port => $t->port('PORT_5'));
                die "expected 407\n"
                    unless $r && $r->{status} =~ /^40[17]$/;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

$t->allow_log(qr/connect\(\) failed \(111: Connection refused\)/);

$t->done;
