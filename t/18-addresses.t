#!/usr/bin/perl

# Which connections are watched, by the address they reach.  A port with
# one address is decided once, from its default server: "tw off" there,
# with no other server_name on the address, leaves the port unwatched.
# A port that also listens on "*" has several addresses behind one
# socket: each connection is decided by its own local address.  A close
# without a request counts in the default server of that address;
# "excluded" counts the closes of watched connections that end in a
# "tw off" server.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%

    # one socket *:PORT for three addresses: 127.0.0.1, 127.0.0.3, "*"
    server {
        listen %%PORT%%;
        server_name any.example;
        location / { return 200 "any\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name lo.example;
        tw off;
        location / { return 200 "lo\n"; }
    }
    server {
        listen 127.0.0.3:%%PORT%%;
        server_name three-off.example;
        tw off;
        location / { return 200 "three-off\n"; }
    }
    server {
        listen 127.0.0.3:%%PORT%%;
        server_name three-on.example;
        location / { return 200 "three-on\n"; }
    }

    # one address: a "tw off" default server and another by name
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name off1.example;
        tw off;
        location / { return 200 "off1\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name on1.example;
        location / { return 200 "on1\n"; }
    }

    # one address, one "tw off" server: not watched at all
    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name off2.example;
        tw off;
        location / { return 200 "off2\n"; }
    }
    %%STATUS_SERVER%%
}
EOF
$t->run;

my $port = $t->port;

sub get {
    my ($host) = @_;
    return "GET / HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n";
}

sub server {
    my ($name) = @_;
    my ($sv) = grep { $_->{name} eq $name } @{ $t->status->{servers} };
    return $sv;
}

# a connection without a request, closed by the client
sub bare {
    my (%o) = @_;
    my $s = $t->connect(%o) or return;
    $t->close($s);
}

my $c0 = $t->settled;

# "*" (here 127.0.0.2): any.example, watched
my $r = $t->request(get('any.example'), host => '127.0.0.2');
is($r && $r->{body}, "any\n", '127.0.0.2: any.example answers');
bare(host => '127.0.0.2');

# 127.0.0.1 on the same socket: lo.example alone, "tw off": not watched
$r = $t->request(get('lo.example'), host => '127.0.0.1');
is($r && $r->{body}, "lo\n", '127.0.0.1: lo.example answers');
bare(host => '127.0.0.1');

# 127.0.0.3: a "tw off" default server, and three-on.example by name
$t->request(get('three-on.example'), host => '127.0.0.3');
$t->request(get('three-off.example'), host => '127.0.0.3');
bare(host => '127.0.0.3');

my $c1 = $t->settled;
$t->moved_ok($c0, $c1, { 'client_close/server' => 2,
                         'client_before_request/client' => 1 },
             'several addresses on one socket: 3 closes counted');
is($c1->{accepted} - $c0->{accepted}, 3,
   'accepted: the 3 counted (the excluded are not in it; the lone "tw off"'
   . ' address is not watched)');
is($c1->{excluded} - $c0->{excluded}, 2,
   'excluded: three-off.example by name and by default');
is(server('any.example')->{closed}, 2, 'any.example: 2 closed');
is(server('three-on.example')->{closed}, 1, 'three-on.example: 1 closed');
ok(!server('lo.example') && !server('three-off.example'),
   '"tw off" servers are not listed');

# one address, default "tw off", another server by name
$c0 = $c1;
$t->request(get('on1.example'), port => $t->port('PORT_1'));
$t->request(get('off1.example'), port => $t->port('PORT_1'));
bare(port => $t->port('PORT_1'));

$c1 = $t->settled;
$t->moved_ok($c0, $c1, { 'client_close/server' => 1 },
             'one address, "tw off" default: the named server counted');
is($c1->{excluded} - $c0->{excluded}, 2,
   'excluded: off1.example by name and by default');
is(server('on1.example')->{closed}, 1, 'on1.example: 1 closed');

# one address, one "tw off" server: nothing moves
$c0 = $c1;
$r = $t->request(get('off2.example'), port => $t->port('PORT_2'));
is($r && $r->{body}, "off2\n", 'off2.example answers');
bare(port => $t->port('PORT_2'));

$c1 = $t->settled;
$t->moved_ok($c0, $c1, {}, 'unwatched port: no close counted');
is($c1->{accepted}, $c0->{accepted}, 'unwatched port: not in accepted');
is($c1->{excluded}, $c0->{excluded}, 'unwatched port: not in excluded');

$t->conservation_ok($t->settled, 'accepted == closed + open');

$t->done;
