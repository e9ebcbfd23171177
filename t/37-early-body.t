#!/usr/bin/perl

# Request bodies: read, too large, timed out, cut short by the client.
# With client_body_early_read (nginx 1.31.5 and later) nginx reads the
# body right after the header, before it has chosen a location and
# before it has decided on keep-alive; each close counts as it does when
# the location reads the body.  Every case runs against a server that
# reads in the location and, with nginx 1.31.5 or later, against one
# that reads early.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

my $early = $t->version_at_least('1.31.5');

my $early_servers = $early ? <<'EOF' : '';
    server {
        listen 127.0.0.1:%%PORT%%;
        client_body_early_read 1;
        location / { proxy_pass http://127.0.0.1:%%PORT_3%%; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        client_body_early_read 1;
        reset_timedout_connection on;
        location / { proxy_pass http://127.0.0.1:%%PORT_3%%; }
    }
EOF

$t->write_conf(<<'EOF' . $early_servers . "    %%STATUS_SERVER%%\n}\n");
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    client_max_body_size 1k;
    client_body_timeout 1s;
    lingering_timeout 1s;

    server {
        listen 127.0.0.1:%%PORT_4%%;
        location / { proxy_pass http://127.0.0.1:%%PORT_3%%; }
    }
    server {
        listen 127.0.0.1:%%PORT_5%%;
        reset_timedout_connection on;
        location / { proxy_pass http://127.0.0.1:%%PORT_3%%; }
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;
        tw off;
        location / { return 200 "backend\n"; }
    }
EOF

$t->run;

my $n = 3;

sub post {
    my ($length, $body, $extra) = @_;
    return "POST / HTTP/1.1\r\nHost: x\r\n" . ($extra // '')
        . "Content-Length: $length\r\n\r\n$body";
}

my @where = (['in the location', $t->port('PORT_4'), $t->port('PORT_5')]);
push @where, ['early', $t->port, $t->port('PORT_2')] if $early;

diag('client_body_early_read needs nginx 1.31.5 or later: not tested')
    unless $early;

for my $how (@where) {
    my ($where, $port, $reset) = @$how;

    $t->case_ok(name => "$where: body read, kept alive", n => $n,
                port => $port,
                run => sub {
                    my $s = $t->request(post(10, '0123456789'),
                                        port => $port, keep => 1);
                    die "no connection\n" unless $s;
                    $t->close($s);
                },
                expect => { 'client_idle/client' => $n },
                tw_server => 0, tw_client => $n);

    $t->case_ok(name => "$where: body read, Connection: close", n => $n,
                port => $port,
                run => sub {
                    my $r = $t->request(post(10, '0123456789',
                                             "Connection: close\r\n"),
                                        port => $port);
                    die "no response\n" unless $r && $r->{status} == 200;
                },
                expect => { 'client_close/server' => $n },
                tw_server => $n, tw_client => 0);

    $t->case_ok(name => "$where: body too large (413)", n => $n,
                port => $port,
                run => sub {
                    my $r = $t->request(post(2000, 'z' x 2000),
                                        port => $port);
                    die "no response\n" unless $r && $r->{status} == 413;
                },
                expect => { 'error_response/server' => $n },
                tw_server => $n, tw_client => 0);

    $t->case_ok(name => "$where: body_timeout", n => 1, accepted => $n,
                port => $port,
                run => $t->parallel($port, post(100, '0123456789'), 'eof',
                                    $n),
                expect => { 'body_timeout/server' => $n },
                tw_server => $n, tw_client => 0);

    $t->case_ok(name => "$where: body_timeout, reset", n => 1,
                accepted => $n, port => $reset,
                run => $t->parallel($reset, post(100, '0123456789'),
                                    'reset', $n),
                expect => { 'body_timeout/server_reset' => $n },
                tw_server => 0, tw_client => 0);

    # the client's FIN inside the body: nginx answers nothing and closes
    # after it

    $t->case_ok(name => "$where: client closes inside the body", n => $n,
                port => $port,
                run => sub {
                    my $s = $t->connect(port => $port);
                    $t->send_raw($s, post(100, '0123456789'));
                    $t->half_close($s);
                    my $how = $t->wait_close($s);
                    die "got $how\n" unless $how eq 'eof';
                    $t->close($s);
                },
                expect => { 'client_abort/client' => $n },
                tw_server => 0, tw_client => $n);
}

$t->done;
