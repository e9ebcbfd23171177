#!/bin/sh
# Fetches nginx's source from Debian's source package into DIR (once):
#
#   util/nginx-src.sh DIR
#
# "apt-get source" needs a deb-src entry for the archive the machine
# already uses; as root this script adds one, otherwise it prints how.
# The bookworm release is asked for by name: the security revision's
# source files are not always on the archive.

set -e

dest=$1
release=${NGINX_DEBIAN_RELEASE:-bookworm}

[ -n "$dest" ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -f "$dest/src/core/nginx.h" ] && exit 0

have_src() {
    apt-get source --print-uris "nginx/$release" >/dev/null 2>&1
}

if ! have_src; then
    if [ "$(id -u)" != 0 ]; then
        cat >&2 <<MSG
nginx's source comes from Debian's source package, and apt has no deb-src
entry.  As root, add one and refresh the lists, e.g. for deb822 sources:

    sed 's/^Types: deb\$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \\
        > /etc/apt/sources.list.d/debian-src.sources
    apt-get update

or build against another tree: make NGINX_SRC=/path/to/nginx
MSG
        exit 1
    fi

    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed 's/^Types: deb$/Types: deb-src/' \
            /etc/apt/sources.list.d/debian.sources \
            > /etc/apt/sources.list.d/ngx-tw-src.sources
    fi

    if [ -f /etc/apt/sources.list ] \
       && grep -q '^deb ' /etc/apt/sources.list
    then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list \
            > /etc/apt/sources.list.d/ngx-tw-src.list
    fi

    echo "added a deb-src entry; refreshing apt's lists"
    apt-get update -q >/dev/null || apt-get update
fi

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
