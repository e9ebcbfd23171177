#!/usr/bin/perl

# The status renderer's unit tests: a C program (t/unit/render.c) built by
# "make unit" with the objects of the test build, printing TAP.  It fills
# a zone by hand and checks that the room tw_status reserves holds every
# format's output, for the whole response and for what each added server
# or key value adds (with the advice it brings).  No nginx process.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use TwTest;

TwTest::unit_tests('render');
