#!/usr/bin/perl

# The classifier's unit tests: a C program (t/unit/classify.c) built by
# "make unit" from the classifier alone, printing TAP.  No nginx process.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use TwTest;

TwTest::unit_tests('classify');
