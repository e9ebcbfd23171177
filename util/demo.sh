#!/bin/bash
# "make demo": nginx with conf/demo.conf on 127.0.0.1:8088 (status on
# 8089), real clients for about seven seconds, then the status with its
# advice.  Everything stays on 127.0.0.1 and stops by itself.

set -eu

nginx=$1
top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/build/demo
site=127.0.0.1:8088
status=http://127.0.0.1:8089/tw_status

mkdir -p "$run/logs"
cp "$top/conf/demo.conf" "$run/nginx.conf"

"$nginx" -p "$run/" -c nginx.conf -e "$run/logs/error.log" -t -q
"$nginx" -p "$run/" -c nginx.conf -e "$run/logs/error.log"
trap '"$nginx" -p "$run/" -c nginx.conf -e "$run/logs/error.log" -s stop' EXIT
sleep 0.5

echo "driving traffic at http://$site/ for about 7 seconds:"

# 1. a keep-alive client that makes many requests: keepalive_requests 100
echo "  - ab -k: 6000 keep-alive requests, 6 at a time"
ab -q -k -n 6000 -c 6 "http://$site/" > /dev/null 2>&1 &

# 2. a health checker that says "Connection: close"
echo "  - a health checker: 80 checks with Connection: close"
(for i in $(seq 1 80); do
     curl -s -o /dev/null -A 'ELB-HealthChecker/2.0' \
          -H 'Connection: close' "http://$site/health"
 done) &

# 3. an HTTP/1.0 client
echo "  - ab: 60 HTTP/1.0 requests without keep-alive"
ab -q -n 60 -c 2 "http://$site/" > /dev/null 2>&1 &

# 4. browsers that leave keep-alive connections idle
echo "  - 40 browsers that stay idle after a request"
for i in $(seq 1 40); do
    (exec 3<>/dev/tcp/127.0.0.1/8088
     printf 'GET / HTTP/1.1\r\nHost: app.example\r\nUser-Agent: Mozilla/5.0\r\n\r\n' >&3
     # read the response, then wait for nginx to close
     timeout 7 cat <&3 > /dev/null) &
done

# 5. preconnects that never send a request
echo "  - 30 preconnects"
for i in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/8088; sleep 4) &
done

wait

echo
echo "kernel: $(ss -Htan state time-wait '( sport = :8088 )' | wc -l)" \
     "TIME-WAIT sockets on 127.0.0.1:8088"
echo
echo "\$ curl -s $status"
curl -s "$status"
