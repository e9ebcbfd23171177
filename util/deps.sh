#!/bin/sh
# Installs the Debian packages a make target needs, or, when not root,
# prints the exact command that would.
#
#   util/deps.sh build|dynamic|test|bench|valgrind ...

set -e

pkgs=""
for what in "$@"; do
    case "$what" in
    build)   pkgs="$pkgs ca-certificates gcc make libc6-dev libpcre2-dev
                   libssl-dev zlib1g-dev dpkg-dev" ;;
    dynamic) pkgs="$pkgs nginx nginx-dev" ;;
    test)    pkgs="$pkgs perl iproute2 util-linux curl apache2-utils
                   openssl libio-socket-ssl-perl prometheus" ;;
    bench)   pkgs="$pkgs wrk valgrind apache2-utils curl" ;;
    valgrind) pkgs="$pkgs valgrind" ;;
    *)       echo "util/deps.sh: unknown group \"$what\"" >&2; exit 2 ;;
    esac
done

missing=""
for p in $pkgs; do
    case " $missing " in *" $p "*) continue ;; esac

    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null \
         | grep -q '^install ok installed$'
    then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing" >&2
    echo "install them as root (su -, or sudo -s), then run this again:" >&2
    echo "    apt-get update &&" \
         "apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

# nginx (Debian's binary, for the dynamic module) and prometheus (for
# promtool) are wanted for their programs alone: their services are not
# started by the installation, nor at the next boot

services=""
for p in $missing; do
    case "$p" in
    nginx|prometheus) services="$services $p" ;;
    esac
done

policy=/usr/sbin/policy-rc.d

if [ -n "$services" ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
    trap 'rm -f "$policy"; exit 130' INT TERM HUP
fi

echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || apt-get update
apt-get install -y -q --no-install-recommends $missing

if [ -n "$services" ] && [ -d /run/systemd/system ]; then
    systemctl disable -q $services 2>/dev/null || true
fi
