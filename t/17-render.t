#!/usr/bin/perl

# The status renderer's unit tests: a C program (t/unit/render.c) built by
# "make unit" with the objects of the test build, printing TAP.  It fills
# a zone by hand and checks that the room tw_status reserves holds every
# format's output, for the whole response and for each server, key value
# and piece of advice alone.  No nginx process.

use strict;
use warnings;

use FindBin;
use Test::More;

my $bin = "$FindBin::Bin/../build/unit/render";

plan skip_all => "$bin not built (make unit)" unless -x $bin;

my @lines = `$bin`;
my $rc = $?;

my ($planned) = map { /^1\.\.(\d+)/ ? $1 : () } @lines;
my $n = 0;

for my $line (@lines) {
    chomp $line;

    if ($line =~ /^(not ok|ok) \d+ - (.*)$/) {
        ok($1 eq 'ok', $2);
        $n++;

    } elsif ($line =~ /^Bail out! (.*)/) {
        fail($1);
    }
}

ok($planned && $n == $planned, "ran all $n unit tests");
is($rc, 0, 'unit test program exit code');

done_testing;
