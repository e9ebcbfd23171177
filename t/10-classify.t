#!/usr/bin/perl

# The classifier's unit tests: a C program (t/unit/classify.c) built by
# "make unit" from the classifier alone, printing TAP.  No nginx process.

use strict;
use warnings;

use FindBin;
use Test::More;

my $bin = "$FindBin::Bin/../build/unit/classify";

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

    } elsif ($line =~ /^#(.*)/) {
        diag($1);
    }
}

ok($planned && $n == $planned, "ran all $n unit tests");
is($rc, 0, 'unit test program exit code');

done_testing;
