#!/usr/bin/perl

# ngx_tw's cost, measured against the same nginx without the module, in
# one run: "make bench".
#
#   1. throughput, p99 latency and the worker's CPU time per request
#      with wrk: plain nginx and the module build side by side, at the
#      same time, one worker each sharing one CPU, in a fresh network
#      namespace (loopback only), in rounds that alternate which starts
#      first; for keep-alive requests of a small file and for one
#      request per connection, with the module's defaults and with
#      per-server and keyed breakdowns on;
#   2. instructions per request under callgrind (one process, master
#      process off): the stable figure on a noisy machine;
#   3. how long tw_status takes to render with 1000 key values and closes
#      of all four closers (every distribution nginx can fill), and the
#      zone memory a key and a server take;
#
# and then, for what the run measured, whether each target is met.
#
# Environment: BENCH_ROUNDS (5), BENCH_SECONDS (3), BENCH_CONNECTIONS (50),
# BENCH_PARTS (wrk,callgrind,status: the parts to run), BENCH_PLAIN and
# BENCH_MODULE (the two nginx binaries; "make bench" builds them).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

my $top = abs_path(dirname(__FILE__) . '/..');
my %bin = (plain => $ENV{BENCH_PLAIN} // "$top/build/bench-plain/nginx",
           module => $ENV{BENCH_MODULE} // "$top/build/bench-module/nginx");
my $rounds = $ENV{BENCH_ROUNDS} // 5;
my $seconds = $ENV{BENCH_SECONDS} // 3;
my $conns = $ENV{BENCH_CONNECTIONS} // 50;
my %part = map { $_ => 1 } split /,/, $ENV{BENCH_PARTS}
                                      // 'wrk,callgrind,status';

-x $bin{$_} or die "$bin{$_} is missing: make bench-builds\n" for keys %bin;
$> == 0 or die "bench runs each measurement in a network namespace of its"
    . " own: run it as root\n";

# what every benchmark request says it is: a browser, which no entry of
# the tw_key map below matches, so that all its regexes run

my $ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like'
    . ' Gecko) Chrome/120.0.0.0 Safari/537.36';

my $dir = tempdir('tw-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/html";
write_file("$dir/html/small.txt", "hello, world\n");

# the configurations: the same site, and for "breakdowns" 20 server names
# and a tw_key map on top

sub conf {
    my ($variant, %o) = @_;
    my $extra = '';
    my $servers = '';
    my $port = $o{port} // 8080;
    my $sport = $port + 1;
    my $p = $o{prefix} // $dir;

    if ($variant =~ /^breakdowns/ || $variant eq 'plain_servers') {
        $servers = join '', map {
            "    server { listen 127.0.0.1:$port; server_name s$_.example;"
            . " root $dir/html; }\n"
        } 1 .. 20;
    }

    # plain nginx gets the map too, unused: configurations that differ
    # only in the module's directives leave the heap alike, and glibc's
    # malloc, called for every request's pool, costs tens of
    # instructions more or less per call with the heap's layout

    if ($variant =~ /^breakdowns/ || $variant eq 'plain_servers') {
        $extra = <<'EOF';
    map $http_user_agent $tw_client {
        ~*kube-probe          probe;
        ~*ELB-HealthChecker   elb;
        ~*wrk                 wrk;
        ~*ApacheBench         ab;
        default               other;
    }
EOF
        $extra .= <<'EOF' if $variant =~ /^breakdowns/;
    tw_key $tw_client;
    tw_key_max 1000;
EOF
        $extra =~ s/(tw_key \$tw_client)/$1 connection/
            if $variant eq 'breakdowns_conn';
    }

    $extra .= $o{http} // '';

    # and a status server: stub_status where the module's is missing

    my $status = $variant =~ /^plain/ ? <<"EOF" : <<"EOF";
    server {
        listen 127.0.0.1:$sport;
        location / { stub_status; }
    }
EOF
    server {
        listen 127.0.0.1:$sport;
        tw off;
        location / { tw_status; }
    }
EOF

    return <<"EOF";
worker_processes @{[ $o{workers} // 2 ]};
@{[ $o{main} // '' ]}pcre_jit on;
pid $p/nginx.pid;
error_log $p/error.log error;
user root;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $p/body;
    proxy_temp_path $p/proxy;
    fastcgi_temp_path $p/fastcgi;
    uwsgi_temp_path $p/uwsgi;
    scgi_temp_path $p/scgi;
    keepalive_requests 100000;
$extra
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $dir/html;
    }
$servers$status
}
EOF
}

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# runs a shell script in a fresh network namespace, returns its output
sub in_netns {
    my ($script) = @_;

    # whatever fails in between, no nginx outlives the script (and keeps
    # its network namespace alive): the masters still running are stopped

    my $stop = "for f in $dir/nginx.pid $dir/run0/nginx.pid"
        . " $dir/run1/nginx.pid; do if [ -f \$f ]; then"
        . " kill -TERM \$(cat \$f) 2>/dev/null || true; fi; done";

    write_file("$dir/run.sh",
               "set -e\ntrap '$stop' EXIT\nip link set lo up\n$script");
    my $out = `unshare --net -- sh $dir/run.sh 2>&1`;
    return $out;
}

sub start_stop {
    my ($nginx, $middle) = @_;
    return <<"EOF";
$nginx -p $dir/ -c $dir/nginx.conf -e $dir/error.log
for i in 1 2 3 4 5 6 7 8 9 10; do
    ss -Htln '( sport = :8080 )' | grep -q . && break; sleep 0.1
done
$middle
$nginx -p $dir/ -c $dir/nginx.conf -e $dir/error.log -s stop
sleep 0.3
EOF
}

###########################################################################
# 1. wrk
###########################################################################

# plain nginx and the module build run side by side, at the same time,
# each with one worker: both workers on the first CPU, both wrk on the
# second (when there is one).  Whatever the machine does meanwhile, it
# does to both; the kernel's scheduler shares the CPU between the two
# workers, so each one's throughput follows its cost per request, and
# each worker's CPU time (user and system, from /proc) per request is
# that cost.

my $ncpu = () = `cat /proc/cpuinfo` =~ /^processor\s*:/mg;
my ($pin_nginx, $pin_wrk) = $ncpu >= 2 ? ("worker_cpu_affinity 01;\n",
                                          'taskset -c 1 ')
                                       : ('', '');

sub wrk_cmd {
    my ($load, $port, $out) = @_;
    return "${pin_wrk}wrk -t1 -c$conns -d${seconds}s --latency"
        . " -H 'User-Agent: $ua'"
        . ($load eq 'close' ? " -H 'Connection: close'" : '')
        . " http://127.0.0.1:$port/small.txt > $out 2>&1 &";
}

sub worker_of {
    my ($p) = @_;
    return <<"EOF";
m=\$(cat $p/nginx.pid)
for d in /proc/[0-9]*; do
    [ "\$(cut -d' ' -f4 \$d/stat 2>/dev/null)" = "\$m" ] && w=\${d#/proc/}
done
echo \$w > $p/worker
EOF
}

# runs two [build, variant] at once; returns, for each, req/s, p99 (ms)
# and the worker's CPU time per request (us)

sub wrk_pair {
    my ($load, @run) = @_;
    my ($script, $wait) = ('', '');
    my @port = (8080, 8090);

    for my $i (0, 1) {
        my ($build, $variant) = @{ $run[$i] };
        my $p = "$dir/run$i";
        mkdir $p;
        write_file("$p/nginx.conf",
                   conf($variant, workers => 1, main => $pin_nginx,
                        port => $port[$i], prefix => $p));
        $script .= "$bin{$build} -p $p/ -c $p/nginx.conf -e $p/error.log\n";
        $wait .= "ss -Htln '( sport = :$port[$i] )' | grep -q . &&";
    }

    $script .= <<"EOF";
for i in \$(seq 1 50); do
    $wait break; sleep 0.1
done
@{[ worker_of("$dir/run0") ]}@{[ worker_of("$dir/run1") ]}
b0=\$(cut -d' ' -f1 /proc/\$(cat $dir/run0/worker)/schedstat)
b1=\$(cut -d' ' -f1 /proc/\$(cat $dir/run1/worker)/schedstat)
@{[ wrk_cmd($load, $port[0], "$dir/run0/wrk.out") ]}
@{[ wrk_cmd($load, $port[1], "$dir/run1/wrk.out") ]}
wait
a0=\$(cut -d' ' -f1 /proc/\$(cat $dir/run0/worker)/schedstat)
a1=\$(cut -d' ' -f1 /proc/\$(cat $dir/run1/worker)/schedstat)
echo "cpu0 \$((a0 - b0)) cpu1 \$((a1 - b1))"
EOF

    for my $i (0, 1) {
        my $build = $run[$i][0];
        $script .= "$bin{$build} -p $dir/run$i/ -c $dir/run$i/nginx.conf"
            . " -e $dir/run$i/error.log -s stop\n";
    }

    $script .= "sleep 0.3\n";

    my $out = in_netns($script);
    my @cpu = $out =~ /cpu0 (\d+) cpu1 (\d+)/
        or die "no CPU figures:\n$out\n";
    my @res;

    for my $i (0, 1) {
        my $w = `cat $dir/run$i/wrk.out`;
        my ($rps) = $w =~ /Requests\/sec:\s+([\d.]+)/;
        my ($n) = $w =~ /(\d+) requests in/;
        my ($p99, $unit) = $w =~ /^\s+99%\s+([\d.]+)(us|ms|s)/m;
        die "wrk gave no figures:\n$w\n$out\n"
            unless defined $rps && defined $p99 && $n;
        $p99 *= { us => 0.001, ms => 1, s => 1000 }->{$unit};
        push @res, [$rps, $p99, $cpu[$i] / $n / 1000];
    }

    return @res;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

print "ngx_tw benchmark: plain nginx against nginx with the module, same"
    . " source and flags\n";
print "  plain:  $bin{plain}\n  module: $bin{module}\n";
print "  ", (`$bin{module} -V 2>&1` =~ /^(configure arguments:.*)$/m)[0]
    // '', "\n";

my (%res, %target, @status);

# each module run against the plain run of the same configuration

my %against = (plain => 'plain', module => 'plain',
               plain_servers => 'plain_servers',
               breakdowns => 'plain_servers',
               breakdowns_conn => 'plain_servers');
my %label = (plain => 'plain', module => 'module',
             plain_servers => 'plain, 21 srv', breakdowns => 'module+keys',
             breakdowns_conn => 'keys per conn');

if ($part{wrk}) {

print "\nwrk: $rounds rounds of ${seconds}s, $conns connections each;"
    . " plain nginx and the module build side by side, one worker each",
    $pin_wrk ? " (both on CPU 0, both wrk on CPU 1)" : '', ", in a network"
    . " namespace of their own\n\n";

# each module configuration against plain nginx with the same servers,
# the two side by side; the ratios are taken within each round, the
# median of the rounds is printed with the lowest and the highest

my @pairs = (['module', 'plain'], ['breakdowns', 'plain_servers'],
             ['breakdowns_conn', 'plain_servers']);

for my $load ('keep-alive', 'close') {
    for my $round (1 .. $rounds) {
        for my $pair (@pairs) {
            my ($variant, $base) = @$pair;
            my @run = (['module', $variant], ['plain', $base]);

            # which one gets the first port and starts first, in turn
            @run = reverse @run if $round % 2 == 0;

            my @res = wrk_pair($load, @run);
            @res = reverse @res if $round % 2 == 0;

            push @{ $res{$load}{$variant} }, $res[0];
            push @{ $res{$load}{"$base/$variant"} }, $res[1];
        }
    }
}

printf "%-11s %-13s %9s %7s %7s  %-19s %-19s %s\n", 'load', 'build',
    'req/s', 'p99 ms', 'cpu us', 'req/s ratio', 'cpu/req ratio',
    'p99 ratio';

for my $load ('keep-alive', 'close') {
    for my $pair (@pairs) {
        my ($variant, $base) = @$pair;

        # the plain runs that went with this module configuration
        $base = "$base/$variant";

        for my $v ($base, $variant) {
            my $r = $res{$load}{$v};
            my (@rps, @cpu, @p99);

            for my $i (0 .. $rounds - 1) {
                my $base_run = $res{$load}{$base}[$i];
                push @rps, $r->[$i][0] / $base_run->[0];
                push @p99, $r->[$i][1] / $base_run->[1];
                push @cpu, $r->[$i][2] / $base_run->[2];
            }

            @rps = sort { $a <=> $b } @rps;
            @cpu = sort { $a <=> $b } @cpu;

            $target{$load}{$v}{rps} = median(@rps);
            $target{$load}{$v}{cpu} = median(@cpu);

            printf "%-11s %-13s %9.0f %7.3f %7.2f  %5.3f (%5.3f-%5.3f)"
                . "  %5.3f (%5.3f-%5.3f)  %5.3f\n", $load,
                $label{ (split m{/}, $v)[0] },
                median(map { $_->[0] } @$r), median(map { $_->[1] } @$r),
                median(map { $_->[2] } @$r),
                median(@rps), $rps[0], $rps[-1],
                median(@cpu), $cpu[0], $cpu[-1], median(@p99);
        }
    }
}

print <<'EOF';
req/s: wrk's throughput; p99: its 99th percentile latency; cpu us: the
nginx worker's CPU time (user and system) per request; ratios: the module
build over plain nginx run at the same time, the median of the rounds
(lowest-highest).
EOF

}

###########################################################################
# 2. callgrind: instructions per request
###########################################################################

sub instructions {
    my ($build, $variant, $load, $n) = @_;
    write_file("$dir/nginx.conf", conf($variant, workers => 1));
    unlink glob "$dir/cg.out*";

    my $ab = "ab -q -n $n -c 1 -H 'User-Agent: $ua'"
        . ($load eq 'keep-alive' ? " -k" : " -H 'Connection: close'")
        . " http://127.0.0.1:8080/small.txt";

    my $out = in_netns(<<"EOF");
valgrind --tool=callgrind --callgrind-out-file=$dir/cg.out \\
    $bin{$build} -p $dir/ -c $dir/nginx.conf -e $dir/error.log \\
    -g 'master_process off; daemon off;' > $dir/valgrind.log 2>&1 &
for i in \$(seq 1 100); do
    ss -Htln '( sport = :8080 )' | grep -q . && break; sleep 0.1
done
$ab > /dev/null || true

# a single process may miss a signal that comes just before it waits for
# events with no timer left: say it again until it is gone
pid=\$(cat $dir/nginx.pid)
for i in \$(seq 1 100); do
    kill -QUIT \$pid 2>/dev/null || break
    sleep 0.2
done
wait
EOF

    my $total;
    open my $fh, '<', "$dir/cg.out" or die "no callgrind output:\n$out\n"
        . `cat $dir/valgrind.log`;
    while (<$fh>) {
        if (/^(?:summary|totals):\s+(\d+)/) {
            $total = $1;
            last;
        }
    }
    close $fh;
    die "no total in callgrind output\n" unless defined $total;

    return ($total, functions("$dir/cg.out"));
}

# inclusive instructions of every function, and of each of its callees;
# callgrind may list a function once per source file its inlined parts
# come from, each time with a share of the whole: the largest is the
# function with all its callees

sub functions {
    my ($file) = @_;
    my (%incl, %callee, $fn);

    for (`callgrind_annotate --tree=calling --inclusive=yes --auto=no \\
          --threshold=100 $file 2>/dev/null`)
    {
        if (/^\s*([\d,]+) \(\s*[\d.]+%\)\s+\*\s+\S*?:(\S+)/) {
            my $n = $1;
            ($fn = $2) =~ s/'\d+$//;
            $n =~ tr/,//d;
            $incl{$fn} = $n if $n > ($incl{$fn} // 0);

        } elsif (defined $fn
                 && /^\s*([\d,]+) \(\s*[\d.]+%\)\s+>\s+\S*?:(\S+) \(/)
        {
            my ($n, $callee) = ($1, $2);
            $n =~ tr/,//d;
            $callee{$fn}{$callee} = $n
                if $n > ($callee{$fn}{$callee} // 0);
        }
    }

    return { incl => \%incl, callee => \%callee };
}

# where the module's instructions go

sub hooks {
    my ($f) = @_;
    my $i = $f->{incl};
    my $c = $f->{callee};
    my %h;

    # nginx's handler is called by the wrapper, or by the function the
    # wrapper jumps to

    $h{accept} = ($i->{ngx_http_tw_init_connection} // 0)
        - ($c->{ngx_http_tw_init_connection}{ngx_http_init_connection} // 0)
        - ($c->{ngx_http_tw_accept}{ngx_http_init_connection} // 0);
    $h{filter} = $i->{ngx_http_tw_header_filter} // 0;
    $h{filter} -= $_ for values %{ $c->{ngx_http_tw_header_filter} // {} };
    $h{body} = $i->{ngx_http_tw_body_filter} // 0;
    $h{body} -= $_ for values %{ $c->{ngx_http_tw_body_filter} // {} };
    $h{log} = ($i->{ngx_http_tw_log_handler} // 0)
        - ($c->{ngx_http_tw_log_handler}{ngx_http_tw_key_get} // 0);
    $h{close} = ($i->{ngx_http_tw_del_conn} // 0)
        - ($c->{ngx_http_tw_del_conn}{ngx_epoll_del_connection} // 0);

    # a key of one variable is read with get_flushed_variable(), any
    # other string with complex_value()

    $h{expression} = ($c->{ngx_http_tw_key_get}{ngx_http_complex_value}
                      // 0)
        + ($c->{ngx_http_tw_key_get}{ngx_http_get_flushed_variable} // 0);
    $h{key} = ($i->{ngx_http_tw_key_get} // 0) - $h{expression};

    return \%h;
}

if ($part{callgrind}) {

print "\ninstructions per request (callgrind, one process; the difference"
    . " between 1000 and 3000 requests)\n";
printf "%-11s %-13s %14s %10s\n", 'load', 'build', 'instructions', 'ratio';

my %where;

for my $load ('keep-alive', 'close') {
    my %per;

    for my $run (['plain', 'plain'], ['module', 'module'],
                 ['plain', 'plain_servers'], ['module', 'breakdowns'],
                 ['module', 'breakdowns_conn'])
    {
        my ($build, $variant) = @$run;
        my ($a, $fa) = instructions($build, $variant, $load, 1000);
        my ($b, $fb) = instructions($build, $variant, $load, 3000);
        $per{$variant} = ($b - $a) / 2000;

        next unless $build eq 'module';

        my ($ha, $hb) = (hooks($fa), hooks($fb));
        $where{$load}{$variant}{$_} = ($hb->{$_} - $ha->{$_}) / 2000
            for keys %$ha;
        $where{$load}{$variant}{total} = $per{$variant}
            - $per{ $against{$variant} };
    }

    for my $variant ('plain', 'module', 'plain_servers', 'breakdowns',
                     'breakdowns_conn')
    {
        printf "%-11s %-13s %14.0f %10.4f\n", $load, $label{$variant},
            $per{$variant}, $per{$variant} / $per{ $against{$variant} };

        $target{$load}{$variant}{instr} = $per{$variant}
                                          / $per{ $against{$variant} };
    }

    # the same without the key's own evaluation (the operator's map),
    # which any use of the key in nginx would cost as much

    for my $variant ('breakdowns', 'breakdowns_conn') {
        $target{$load}{$variant}{own} = ($per{$variant}
                                         - $where{$load}{$variant}{expression})
                                        / $per{ $against{$variant} };
    }
}

print "\nwhere the module's instructions go, per request\n";
printf "%-11s %-13s %7s %7s %5s %5s %6s %7s %9s %6s\n", 'load', 'build',
    'accept', 'header', 'body', 'log', 'close', 'tw_key', 'key expr',
    'total';

for my $load ('keep-alive', 'close') {
    for my $variant ('module', 'breakdowns', 'breakdowns_conn') {
        my $w = $where{$load}{$variant};
        printf "%-11s %-13s %7.0f %7.0f %5.0f %5.0f %6.0f %7.0f %9.0f"
            . " %6.0f\n", $load, $label{$variant},
            @$w{qw(accept filter body log close key expression total)};
    }
}

print <<'EOF';
accept: the listener handler; header and body: the header and body
filters, without the filters they pass the response on to; log: the log
phase handler; close: TCP state, classification and counters, in
del_conn(); tw_key: finding the value in the zone; key expr: nginx
evaluating the tw_key variable, here a map of 4 regexes with pcre_jit
on, which costs as much wherever nginx evaluates it ("keys per conn":
"tw_key ... connection", evaluated once per connection); total: the
difference from plain nginx, including nginx's own calls of the
handlers.
EOF

}

###########################################################################
# 3. tw_status: render time with 1000 keys, zone memory per key, server
###########################################################################

# the issue's targets, for what this run measured

sub summary {
    print "\ntargets: throughput ratio >= 0.99 (in brackets: the CPU time"
        . " per request, module\nover plain), instructions per request"
        . " <= +1 %, tw_status median < 1 ms\n";
    printf "%-11s %-13s %-26s %s\n", 'load', 'build',
        'throughput (cpu/req)', 'instructions';

    for my $load ('keep-alive', 'close') {
        for my $variant ('module', 'breakdowns', 'breakdowns_conn') {
            my $t = $target{$load}{$variant} or next;
            my ($wrk, $instr) = ('-', '-');

            $wrk = sprintf "%.3f (%.3f) %s", $t->{rps}, $t->{cpu},
                $t->{rps} >= 0.99 ? 'met' : 'MISSED'
                if defined $t->{rps};
            $instr = sprintf "%+.2f %% %s", ($t->{instr} - 1) * 100,
                $t->{instr} <= 1.01 ? 'met' : 'MISSED'
                if defined $t->{instr};
            $instr .= sprintf " (without key expr %+.2f %%)",
                ($t->{own} - 1) * 100
                if defined $t->{own};

            printf "%-11s %-13s %-26s %s\n", $load, $label{$variant},
                $wrk, $instr;
        }
    }

    for my $st (@status) {
        printf "%-11s %-13s %.3f ms %s\n", 'tw_status', $st->[0], $st->[1],
            $st->[1] < 1 ? 'met' : 'MISSED';
    }
}

unless ($part{status}) {
    summary();
    exit 0;
}

print "\ntw_status with 1000 key values, and closes by server, client,"
    . " server_reset and client_reset in every distribution nginx fills\n";

sub status_times {
    my $script = <<'EOF';
use strict; use warnings; use IO::Socket::INET; use Time::HiRes qw(time);
use Socket qw(SOL_SOCKET SO_LINGER);
use JSON::PP;

sub req {
    my ($s, $path, %h) = @_;
    my $hdr = join '', map { "$_: $h{$_}\r\n" } keys %h;
    print $s "GET $path HTTP/1.1\r\nHost: x\r\n$hdr\r\n";
    my $buf = '';
    my ($len, $hlen);
    while (1) {
        sysread($s, $buf, 262144, length $buf) or die "status: $!";
        if (!defined $hlen && $buf =~ /\r\n\r\n/) {
            $hlen = $+[0];
            ($len) = $buf =~ /Content-Length: (\d+)/i;
        }
        last if defined $hlen && length($buf) >= $hlen + $len;
    }
    return substr $buf, $hlen;
}

sub conn { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => shift)
           or die "connect: $!" }

my $st = conn(8081);
my $free0 = decode_json(req($st, '/?format=json'))->{zone}{free};

# 1000 key values over keep-alive connections, and closes of every kind
my $s = conn(8080);
for my $i (1 .. 1000) {
    req($s, '/small.txt', 'User-Agent' => "client-$i");
    if ($i % 100 == 0) { close $s; $s = conn(8080); }
}
close $s;
for (1 .. 50) {
    my $c = conn(8080);
    req($c, '/small.txt', 'Connection' => 'close');
}

# and the other closers, so that every closer's distributions have
# figures: nginx's RST ("return 444" with reset_timedout_connection on),
# the client's RST on an idle connection, and nginx's idle timeout

for (1 .. 20) {
    my $c = conn(8082);
    print $c "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n";
    sysread($c, my $buf, 1024);
    close $c;
}
for (1 .. 20) {
    my $c = conn(8080);
    req($c, '/small.txt');
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) or die "$!";
    close $c;
}
my @idle = map { my $c = conn(8082); req($c, '/small.txt'); $c } 1 .. 20;
for my $c (@idle) {
    sysread($c, my $buf, 1024);
    close $c;
}

my $js = decode_json(req($st, '/?format=json'));
my $free1 = $js->{zone}{free};
printf "zone: %.0f bytes per key value\n", ($free0 - $free1) / 1000;

my ($filled, $all) = (0, 0);
for my $h (sort keys %{ $js->{histograms} }) {
    for my $closer (sort keys %{ $js->{histograms}{$h} }) {
        next if $closer eq 'le';
        $all++;
        $filled++ if $js->{histograms}{$h}{$closer}{count};
    }
}
print "distributions with closes: $filled of $all\n";

# each format, then a static file of the same size from the same nginx,
# fetched the same way: what the round trip costs without the rendering

my $html = shift @ARGV;

sub fetch_times {
    my ($s, $path) = @_;
    my (@t, $size);
    for (1 .. 200) {
        my $t0 = time;
        my $b = req($s, $path);
        push @t, (time - $t0) * 1000;
        $size = length $b;
    }
    @t = sort { $a <=> $b } @t;
    return ($size, $t[@t / 2], $t[int(@t * 0.9)]);
}

for my $format ('text', 'json', 'prometheus') {
    my ($size, $median, $p90) = fetch_times($st, "/?format=$format");

    open my $fh, '>', "$html/$format.out" or die "$html: $!";
    print $fh 'x' x $size;
    close $fh;

    my $fs = conn(8080);
    my (undef, $smedian) = fetch_times($fs, "/$format.out");
    close $fs;

    printf "%-10s %8d bytes  median %.3f ms  p90 %.3f ms;"
        . " same size static file %.3f ms\n",
        $format, $size, $median, $p90, $smedian;
}
EOF
    write_file("$dir/status.pl", $script);
    return in_netns(start_stop($bin{module},
                               "perl $dir/status.pl $dir/html\n"));
}

my $http = <<"EOF";
    tw_key \$http_user_agent;
    tw_key_max 1000;
    tw_zone_size 4m;
    server {
        listen 127.0.0.1:8082;
        root $dir/html;
        keepalive_timeout 1s;
        reset_timedout_connection on;
        location = /drop { return 444; }
    }
EOF
write_file("$dir/nginx.conf", conf('module', http => $http));

my $times = status_times();
print $times;
push @status, [$1, $2]
    while $times =~ /^(\w+) +\d+ bytes +median ([\d.]+) ms/mg;
die "tw_status: no figures for the three formats\n" unless @status == 3;

# per server: the zone with 1 server, and with 101

sub zone_free {
    my ($nservers) = @_;
    my $servers = join '', map {
        "    server { listen 127.0.0.1:8080; server_name x$_.example; }\n"
    } 1 .. $nservers;
    write_file("$dir/nginx.conf",
               conf('module', http => "    tw_zone_size 4m;\n$servers"));
    my $out = in_netns(start_stop($bin{module}, <<'EOF'));
curl -s 'http://127.0.0.1:8081/?format=json'
EOF
    my ($free) = $out =~ /"free":(\d+)/ or die "no zone figure: $out\n";
    return $free;
}

my $f0 = zone_free(0);
my $f100 = zone_free(100);
printf "zone: %.0f bytes per server\n", ($f0 - $f100) / 100;

summary();
