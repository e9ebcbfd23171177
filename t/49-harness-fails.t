#!/usr/bin/perl

# The harness's checks fail when they should.  The same scenario, one
# request with "Connection: close" (client_close, nginx's FIN first, its
# TIME-WAIT on the server), is checked with its true expectations, then
# with each of them wrong in turn: exactly the check of the wrong one
# must fail.  Then the books and settled() with wrong figures.  Only the
# verdicts are compared (skip_err): the diagnostics may say anything.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::Builder::Tester;
use Test::More;
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
    }
    %%STATUS_SERVER%%
}
EOF

$t->run;

my $n = 2;

sub closing {
    my $r = $t->request("GET / HTTP/1.1\r\nHost: x\r\n"
                        . "Connection: close\r\n\r\n");
    die "no response\n" unless $r && $r->{status} == 200;
}

my @checks = ('counters', 'accepted', 'kernel TIME-WAIT on the server side',
              'kernel TIME-WAIT on the client side',
              'accepted == closed + open');

# case_ok() with one expectation changed; "wrong" names the check that
# must fail (none: every check passes)

sub case_with {
    my ($title, $wrong, %change) = @_;
    my %o = (name => 'probe', n => $n, run => \&closing,
             expect => { 'client_close/server' => $n },
             tw_server => $n, tw_client => 0, %change);
    my $i = 0;

    test_out(map {
        $i++;
        (defined $wrong && $_ eq $wrong ? 'not ok' : 'ok') . " $i - probe: $_"
    } @checks);
    $t->case_ok(%o);
    test_test(title => $title, skip_err => 1);
}

case_with('case_ok: the true expectations pass', undef);

case_with('case_ok: the wrong closer fails the counters', 'counters',
          expect => { 'client_close/client' => $n });

case_with('case_ok: a reason that did not move fails the counters',
          'counters',
          expect => { 'client_close/server' => $n, 'http10/server' => 1 });

case_with('case_ok: a wrong accepted count fails', 'accepted',
          accepted => $n + 1);

case_with('case_ok: no server TIME-WAIT expected, two there, fails',
          'kernel TIME-WAIT on the server side', tw_server => 0);

case_with('case_ok: client TIME-WAITs expected, none there, fails',
          'kernel TIME-WAIT on the client side', tw_client => $n);

# a scenario that dies: one failed check, and the script goes on

test_out('not ok 1 - probe: the scenario ran');
my $dead = $t->case_ok(name => 'probe', n => $n,
                       run => sub { die "no response\n" },
                       expect => {}, tw_server => 0, tw_client => 0);
test_test(title => 'case_ok: a scenario that dies fails once',
          skip_err => 1);
ok(!defined $dead, 'case_ok: a scenario that dies returns nothing');

case_with('case_ok: the next case counts from a settled zone', undef);

# moved_ok() and conservation_ok() on figures made up here

my %before = ('client_close/server' => 5, 'client_idle/client' => 1);
my %after = ('client_close/server' => 7, 'client_idle/client' => 1);

test_out('ok 1 - moved right', 'not ok 2 - moved: too few',
         'not ok 3 - moved: an unknown cell', 'not ok 4 - moved: none');
$t->moved_ok(\%before, \%after, { 'client_close/server' => 2 }, 'moved right');
$t->moved_ok(\%before, \%after, { 'client_close/server' => 1 },
             'moved: too few');
$t->moved_ok(\%before, \%after, { 'client_close/server' => 2,
                                  'nosuch/server' => 0 },
             'moved: an unknown cell');
$t->moved_ok(\%before, \%after, {}, 'moved: none');
test_test(title => 'moved_ok fails on every wrong figure', skip_err => 1);

my %books = (accepted => 9, closed => 8, open => 1, lost => 0,
             'client_close/server' => 8, 'other/server' => 0);

test_out('ok 1 - books', 'not ok 2 - books: one short',
         'not ok 3 - books: other', 'not ok 4 - books: closed');
$t->conservation_ok({ %books }, 'books');
$t->conservation_ok({ %books, accepted => 10 }, 'books: one short');
$t->conservation_ok({ %books, 'other/server' => 1, accepted => 10,
                      closed => 9 }, 'books: other');
$t->conservation_ok({ %books, closed => 7 }, 'books: closed');
test_test(title => 'conservation_ok fails on unbalanced books',
          skip_err => 1);

# settled(): a connection that stays open is reported

my $held = $t->connect or die "connect: $t->{last_error}\n";
wait_until(sub { $t->counts->{open} == 1 });

test_out('not ok 1 - settled: 1 still open after 1s, none in an accept queue');
$t->settled(timeout => 1);
test_test(title => 'settled fails while a connection is open',
          skip_err => 1);

$t->close($held);

# the TIME-WAIT count of client ports that made no connection is zero,
# whatever the port has

closing() for 1 .. 2;
$t->wait_tw_server(2);
is($t->tw_server(peers => [1]), 0, 'tw_server: only the given peers count');

$t->done;
