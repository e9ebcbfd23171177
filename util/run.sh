#!/bin/sh
# "make run": nginx with conf/nginx.conf on 127.0.0.1:PORT, in the
# foreground, until Ctrl-C.
#
#   util/run.sh NGINX RUNDIR PORT

set -e

nginx=$1
run=$2
port=$3

mkdir -p "$run/logs" "$run/html"
cp conf/html/* "$run/html/"
sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/" conf/nginx.conf > "$run/nginx.conf"

# one "make run" at a time: a second would share the pid file and logs

pid=$(cat "$run/logs/nginx.pid" 2>/dev/null || true)

if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "the nginx of an earlier \"make run\" still runs (pid $pid);" \
         "stop it first: Ctrl-C in its terminal, or kill $pid" >&2
    exit 1
fi

if command -v ss >/dev/null 2>&1 \
   && [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
then
    echo "port $port is taken by another program; PORT=8081 make run" \
         "moves the site" >&2
    exit 1
fi

# as root, nginx's workers run as "nobody", who may not be allowed into
# the directory of this clone (/root, or a private temporary directory)

user=
if [ "$(id -u)" = 0 ] \
   && ! runuser -u nobody -- test -r "$run/html/index.html" 2>/dev/null
then
    echo "note: user \"nobody\" cannot read $run/html;" \
         "the workers run as root for this run on 127.0.0.1"
    user='user root;'
fi

"$nginx" -t -q -p "$run/" -c nginx.conf -e stderr -g "$user"

echo "nginx with ngx_tw: http://127.0.0.1:$port/"
echo "its counters:      http://127.0.0.1:$port/tw_status (?format=json)"
echo "configuration:     $run/nginx.conf"
echo "logs:              $run/logs/"
echo "Ctrl-C stops it (or: $nginx -p $run/ -c nginx.conf -s stop)"

exec "$nginx" -p "$run/" -c nginx.conf -e stderr -g "daemon off; $user"
