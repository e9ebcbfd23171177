#!/bin/sh
# make, on a machine that may not have it yet: README.md's two commands,
#
#   sh util/make.sh run
#   sh util/make.sh test
#
# install every Debian package the targets need, make included, at once
# (as root, with apt-get; otherwise they print the one command that
# would), then run make with the same arguments.

set -e

cd "$(dirname "$0")/.."

groups=build

for target in "$@"; do
    case "$target" in
    dynamic)
        groups="$groups dynamic" ;;
    test|test-dynamic|test-asan)
        groups="$groups dynamic test" ;;
    test-valgrind)
        groups="$groups dynamic test valgrind" ;;
    demo)
        groups="$groups test" ;;
    bench|bench-builds)
        groups="$groups test bench" ;;
    esac
done

# "TW_TEST_LONG=1 make test" runs the suite under memcheck too

case "$groups" in
*test*) [ -n "$TW_TEST_LONG" ] && groups="$groups valgrind" ;;
esac

sh util/deps.sh $groups

exec make "$@"
