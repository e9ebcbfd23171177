#!/usr/bin/perl

# Clients that go away in the middle of a request (499 and the like), and
# upgraded (WebSocket) connections ended by either side.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /slow {
            proxy_pass http://127.0.0.1:%%PORT_1%%;
            proxy_read_timeout 30s;
        }
        location /ws {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 30s;
        }
    }
    %%STATUS_SERVER%%
}
EOF

# a backend that accepts nothing: its backlog completes the handshake and
# the request waits there for ever
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $t->port('PORT_1'),
                                   Listen => 64, ReuseAddr => 1)
    or die "silent backend: $!";

# a WebSocket-like backend: answers 101, then either closes the relay
# itself after a moment (/ws/backend-ends) or waits for nginx to close
$t->backend(port => $t->port('PORT_2'), handler => sub {
    my ($c, $req) = @_;
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\n"
             . "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    if ($req =~ m{^GET /ws/backend-ends}) {
        select undef, undef, undef, 0.1;
    } else {
        1 while sysread($c, my $buf, 4096);
    }
});

$t->run;

my $n = 3;

$t->case_ok(name => 'client gives up waiting (499)', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
                select undef, undef, undef, 0.2;
                $t->close($s);
            },
            expect => { 'client_abort/client' => $n },
            tw_server => 0, tw_client => $n);

$t->case_ok(name => 'client resets while waiting', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
                select undef, undef, undef, 0.2;
                $t->reset($s);
            },
            expect => { 'client_abort/client_reset' => $n },
            tw_server => 0, tw_client => 0);

# bytes nginx has not read are still queued when the client's RST
# arrives: the kernel keeps them, but the reset was the client's

$t->case_ok(name => 'client resets with bytes unread', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                             . "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                select undef, undef, undef, 0.2;
                $t->reset($s);
            },
            expect => { 'client_abort/client_reset' => $n },
            tw_server => 0, tw_client => 0);

$t->case_ok(name => 'client closes inside its headers', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, "GET / HTTP/1.1\r\nHo");
                select undef, undef, undef, 0.1;
                $t->close($s);
            },
            expect => { 'client_abort/client' => $n },
            tw_server => 0, tw_client => $n);

my $upgrade = "GET /ws/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    . "Connection: Upgrade\r\n\r\n";

$t->case_ok(name => 'upgrade ended by the backend', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, sprintf($upgrade, 'backend-ends'));
                my $r = $t->read_response($s, head => 1);
                die "no 101\n" unless $r && $r->{status} == 101;
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'upgrade/server' => $n },
            tw_server => $n, tw_client => 0);

$t->case_ok(name => 'upgrade ended by the client', n => $n,
            run => sub {
                my $s = $t->connect;
                $t->send_raw($s, sprintf($upgrade, 'client-ends'));
                my $r = $t->read_response($s, head => 1);
                die "no 101\n" unless $r && $r->{status} == 101;
                select undef, undef, undef, 0.1;
                $t->close($s);
            },
            expect => { 'upgrade/client' => $n },
            tw_server => 0, tw_client => $n);

$t->done;
