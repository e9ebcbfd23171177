#!/usr/bin/perl

# tw_status read while workers store new tw_key values: every response
# lists every value an earlier one listed, and since a reset the values'
# closes never add up to more than the total, however the reads, the
# resets and the new values interleave (but for the closes under way at
# a reset).

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
    tw_key $http_user_agent;
    tw_key_max 5000;
    tw_zone_size 16m;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_STATUS%%;
        tw off;
        location = /tw_status { tw_status; tw_status_reset on; }
    }
}
EOF

$t->run;

my $port = $t->port;
my $sp = $t->port('PORT_STATUS');
my $readings = $ENV{TEST_NGINX_VALGRIND} ? 20 : 60;
my $stop = $t->prefix . '/stop';

sub call {
    my ($method, $query) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sp,
                                  Timeout => 10)
        or die "connect: $!";

    # HTTP/1.0: the body ends with the connection, read in one go (the
    # harness's reader parses as it goes, slow for a large response)

    $t->send_raw($s, "$method /tw_status?format=json$query HTTP/1.0\r\n"
                 . "Content-Length: 0\r\n\r\n");
    my $b = '';
    1 while sysread($s, $b, 1 << 20, length $b);
    close $s;
    $b =~ s/\A(HTTP\/1\.\d (\d+)[^\n]*\n(?:[^\n]+\n)*?\r?\n)//
        or die "no status response:\n$b\n";
    die "status $2\n$b\n" unless $2 == 200;

    # the few fields needed, read from the JSON as nginx writes it: a
    # full parse of a thousand values takes longer than storing them

    my %st;
    ($st{closed}) = $b =~ /"connections":\{[^}]*"closed":(\d+)/
        or die "no connections in the status:\n$b\n";
    ($st{overflow}) = $b =~ /"keys_overflow":\{"requests":\d+,"closed":(\d+)/
        or die "no keys_overflow in the status:\n$b\n";
    while ($b =~ /\{"key":"([^"]*)","requests":\d+,"closed":(\d+)/g) {
        $st{keys}{$1} = $2;
    }
    return \%st;
}

# two clients store new values, each with connections of its own, until
# the readings are done (at most 2,000 values each, below tw_key_max)

my @kids;
for my $k (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {

        for my $i (1 .. 2000) {
            last if -e $stop;


            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port, Timeout => 10)
                or next;
            print $s "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: ua-$k-$i\r\n"
                . "Connection: close\r\n\r\n";
            1 while <$s>;
            close $s;
        }
        exit 0;
    }
    push @kids, $pid;
}

# the readings start once the clients have stored a first value: on a
# slow machine (memcheck) they could otherwise be half done before then

$t->wait_until(sub { %{ call(GET => '')->{keys} // {} } }, timeout => 10)
    or diag('no value stored after 10 s');

my (%seen, $lost, $over, $resets, $growing);
my $last = 0;

for my $n (1 .. $readings) {
    my $q = [[GET => ''], [GET => '&since=reset'], [POST => '']]->[$n % 3];
    my $st = call(@$q);
    $resets++ if $q->[0] eq 'POST';

    my $now = $st->{keys} // {};
    if ($q->[1] eq '' && $q->[0] eq 'GET') {
        $lost++ if grep { !exists $now->{$_} } keys %seen;
        $seen{$_} = 1 for keys %$now;
        $growing++ if keys %$now > $last;
        $last = keys %$now;
    }

    # since a reset, a close under way while it was made may be in its
    # value and not in the total: one per client at most

    my $sum = $st->{overflow};
    $sum += $_ for values %$now;
    my $since_start = $q->[0] eq 'GET' && $q->[1] eq '';
    $over++ if $sum > $st->{closed} + ($since_start ? 0 : 2);
}

open my $fh, '>', $stop or die "$stop: $!";
close $fh;
waitpid($_, 0) for @kids;

diag("$readings readings, $resets resets, "
     . scalar(keys %seen) . " values seen");
ok($growing && $growing >= 3, 'read while new values were stored');
ok(!$lost, 'no reading left out a value an earlier one listed')
    or diag("$lost readings did");
ok(!$over, 'the values never add up to more than the total')
    or diag("$over readings did");

# every connection had a value of its own

my $c = $t->settled;
my $st = call(GET => '');
is(scalar keys %{ $st->{keys} }, $c->{closed}, 'every value listed');
is($st->{overflow}, 0, 'none in the overflow');
my $sum = 0;
$sum += $_ for values %{ $st->{keys} };
is($sum, $c->{closed}, 'and their closes are all the closes');

$t->done;
