#!/bin/sh
# Fetches nginx's source from Debian's source package into DIR (once):
#
#   util/nginx-src.sh DIR
#   util/nginx-src.sh --check
#
# "apt-get source" needs a deb-src entry for the archive the machine
# already uses; as root this script adds one, otherwise it prints how
# (--check only does that).  The bookworm release is asked for by name:
# the security revision's source files are not always on the archive.

set -e

dest=$1
release=${NGINX_DEBIAN_RELEASE:-bookworm}

[ -n "$dest" ] || { echo "usage: $0 DIR|--check" >&2; exit 2; }
[ -f "$dest/src/core/nginx.h" ] && exit 0

have_src() {
    apt-get source --print-uris "nginx/$release" >/dev/null 2>&1
}

# the commands that add a deb-src entry for each list of sources there is

sources=/etc/apt/sources.list.d/debian.sources
list=/etc/apt/sources.list

add_src() {
    if [ -f $sources ]; then
        echo "sed 's/^Types: deb\$/Types: deb-src/' $sources" \
             "> /etc/apt/sources.list.d/ngx-tw-src.sources"
    fi

    if [ -f $list ] && grep -q '^deb ' $list; then
        echo "sed -n 's/^deb /deb-src /p' $list" \
             "> /etc/apt/sources.list.d/ngx-tw-src.list"
    fi
}

if ! have_src; then
    if [ "$(id -u)" != 0 ]; then
        {
            echo "nginx's source comes from Debian's source package, and" \
                 "apt has no deb-src entry."
            echo "As root (su -, or sudo -s), add one and refresh apt's" \
                 "lists, then run this again:"
            echo
            add_src | sed 's/^/    /'
            echo "    apt-get update"
            echo
            echo "or build against another nginx tree:" \
                 "NGINX_SRC=/path/to/nginx sh util/make run"
        } >&2
        exit 1
    fi

    [ "$dest" = --check ] && exit 0

    if [ -z "$(add_src)" ]; then
        echo "no list of apt sources ($sources, $list) to add a deb-src" \
             "entry to; build against another nginx tree:" \
             "NGINX_SRC=/path/to/nginx sh util/make run" >&2
        exit 1
    fi

    add_src | sh -e

    echo "added a deb-src entry; refreshing apt's lists"
    apt-get update -q >/dev/null || apt-get update
fi

[ "$dest" = --check ] && exit 0

tmp="$dest.download"
rm -rf "$tmp"
mkdir -p "$tmp"

(cd "$tmp" && apt-get source -q "nginx/$release" 2>&1 | tail -n 3)

src=$(ls -d "$tmp"/nginx-[0-9]*/ 2>/dev/null | head -n 1)

if [ -z "$src" ] || [ ! -f "$src/src/core/nginx.h" ]; then
    echo "apt-get source nginx/$release gave no source tree" >&2
    exit 1
fi

rm -rf "$dest"
mv "$src" "$dest"
rm -rf "$tmp"

echo "nginx source: $dest ($(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
    "$dest/src/core/nginx.h"))"
