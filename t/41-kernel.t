#!/usr/bin/perl

# The kernel's TIME_WAIT counts, unit tests (t/unit/timewait.c, built by
# "make unit" with the objects of the test build): the sock_diag dump and
# /proc/net/tcp, the way without it, count the same real TIME_WAIT
# sockets on loopback ports of the test's own, and /proc/net/tcp's parser
# reads a file of the test's own line by line.  No nginx process.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use TwTest;

TwTest::unit_tests('timewait');
