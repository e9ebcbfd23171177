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
#
# NGINX_DEBIAN_RELEASE=trixie (another Debian release than the machine's)
# fetches that release's nginx with apt lists of its own, in DIR.apt:
# the machine's sources stay as they are, and root is not needed.

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

# another release than the machine's: apt's options for lists of our own,
# with a deb-src entry for it on the machine's Debian mirror, or on
# deb.debian.org when that mirror does not have it

codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null)
apt_opts=""

# its lists for "release" from mirror $1, in $apt: fails without them
# (apt-get update only warns of a mirror it cannot reach)

private_lists() {
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
         "$1 $release main" > "$apt/sources.list"
    echo "nginx/$release: apt's lists of $1 $release, in $apt"
    apt-get -q $apt_opts update >"$apt/update.log" 2>&1 || true
    ls "$apt/lists/" | grep -q '_Sources' && return 0
    tail -n 3 "$apt/update.log" >&2
    return 1
}

if [ "$release" != "${codename:-bookworm}" ]; then

    # nothing to add to the machine's sources, nor to do as root
    [ "$dest" = --check ] && exit 0

    mirror=$(sed -n 's,^URIs:[[:space:]]*\(http[^[:space:]]*/debian\)/*$,\1,p' \
                 $sources 2>/dev/null | head -n 1) || true
    [ -n "$mirror" ] || [ ! -f $list ] \
        || mirror=$(awk '$1 == "deb" {
               for (i = 2; i <= NF; i++)
                   if ($i ~ /^http.*\/debian\/?$/) { sub(/\/$/, "", $i);
                                                      print $i; exit } }' \
               $list 2>/dev/null) || true

    apt="$dest.apt"
    rm -rf "$apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"

    # absolute: apt takes a relative path as one in /etc/apt or below
    apt=$(cd "$apt" && pwd)

    apt_opts="-o Dir::Etc::SourceList=$apt/sources.list
              -o Dir::Etc::SourceParts=$apt/none
              -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache
              -o APT::Sandbox::User=$(id -un)"

    if [ -z "$mirror" ] || ! private_lists "$mirror"; then
        private_lists http://deb.debian.org/debian || {
            echo "no apt lists of Debian $release: nginx/$release cannot" \
                 "be fetched; build against another nginx tree:" \
                 "NGINX_SRC=/path/to/nginx" >&2
            exit 1
        }
    fi

elif ! have_src; then
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

(cd "$tmp" && apt-get source -q $apt_opts "nginx/$release" 2>&1 \
     | tail -n 3)

src=$(ls -d "$tmp"/nginx-[0-9]*/ 2>/dev/null | head -n 1)

# a mirror may list a Debian revision whose .dsc and .debian.tar.xz it
# does not hold yet (or no longer), while the upstream tarball, shared by
# every revision, is there: that tarball is then unpacked, once its
# SHA256 matches the one in the release's signed lists, without Debian's
# patches

if [ -z "$src" ]; then
    # (in an empty directory: apt leaves out the files already in one)
    mkdir "$tmp/.uris"
    set -- $(cd "$tmp/.uris" && apt-get source -q --print-uris $apt_opts \
                 "nginx/$release" 2>/dev/null \
             | sed -n "s/^'[^']*' \(nginx_[^ ]*\.orig\.tar\.[a-z0-9]*\)"\
"  *[0-9]*  *SHA256:\([0-9a-f]*\)\$/\1 \2/p" | head -n 1)

    if [ -n "$1" ] && [ -f "$tmp/$1" ] \
       && echo "$2  $tmp/$1" | sha256sum -c --status -
    then
        echo "nginx/$release: Debian's revision files are missing on the" \
             "mirror; unpacking its upstream tarball $1 (SHA256 checked)"
        tar -C "$tmp" -xf "$tmp/$1"
        src=$(ls -d "$tmp"/nginx-[0-9]*/ 2>/dev/null | head -n 1)
    fi
fi

if [ -z "$src" ] || [ ! -f "$src/src/core/nginx.h" ]; then
    echo "apt-get source nginx/$release gave no source tree" >&2
    exit 1
fi

rm -rf "$dest"
mv "$src" "$dest"
rm -rf "$tmp"
[ -z "$apt_opts" ] || rm -rf "$apt"

echo "nginx source: $dest ($(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
    "$dest/src/core/nginx.h"))"
