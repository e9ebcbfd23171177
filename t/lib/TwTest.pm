package TwTest;

# Test harness for ngx_http_tw_module: runs a real nginx, talks to it over
# raw TCP sockets and compares what the module reports with what the kernel
# sees (TIME-WAIT sockets).  Documentation is in the POD at the end.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Errno qw(EINTR EAGAIN EWOULDBLOCK ECONNRESET ESRCH);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Scalar::Util qw(blessed weaken);
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use Test::More ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';
our @EXPORT  = qw(wait_until);

# Repository root: t/lib/TwTest.pm -> two directories up from t/lib.
my $REPO_ROOT = abs_path(dirname(__FILE__) . '/../..');

# the status server most tests use: on its own port, never counted
my $STATUS_SERVER = 'server { listen 127.0.0.1:%%PORT_STATUS%%; tw off;'
    . ' location = /tw_status { tw_status; } }';

# Network namespace state of this process: undef until decided, then
# 1 (private namespace) or 0 (host namespace).
our $NETNS;

# Environment marker used to re-execute a test file once inside a fresh
# network namespace; its value is the inode of the original namespace.
my $NETNS_ENV = 'TW_TEST_NETNS';

# Arguments of the test file as given, before the test shifts them away.
my @ORIG_ARGV = @ARGV;

my $DEFAULT_TIMEOUT = 5;
my @PORT_NAMES = ('PORT', (map { "PORT_$_" } 1 .. 9), 'PORT_STATUS');

# Live objects, so that nginx is stopped even when a test file dies.
my %LIVE;

# ... or is interrupted (Ctrl-C on prove, a CI's timeout), or loses the
# reader of its output (prove gone after a bail-out, "| head"): a signal
# that kills perl runs no END block, and nginx, a daemon in a session of
# its own, would outlive the test.  The test process exits instead, which
# stops its nginx; a child it forked (a backend, a client) just goes.
# After SIGPIPE, what is still written on the way out fails quietly.
my $MAIN_PID = $$;

for my $sig (qw(INT TERM HUP PIPE)) {
    next if defined $SIG{$sig} && $SIG{$sig} ne '' && $SIG{$sig} ne 'DEFAULT';
    my $code = 128 + POSIX->can("SIG$sig")->();
    $SIG{$sig} = sub {
        POSIX::_exit($code) if $$ != $MAIN_PID;
        $SIG{PIPE} = 'IGNORE';
        exit $code;
    };
}

# Cached "does this binary understand -e" answers, by binary path.
my %HAS_E_FLAG;

###########################################################################
# Construction and configuration
###########################################################################

sub new {
    my ($class, %opts) = @_;

    my $self = bless {
        workers   => $opts{workers} // 2,
        log_level => $opts{log_level} // 'info',
        binary    => $opts{binary} // $ENV{TEST_NGINX_BINARY}
                     // "$REPO_ROOT/build/static/nginx",
        module    => exists $opts{module} ? $opts{module}
                     : $ENV{TEST_NGINX_MODULE},
        owner     => $$,
        in_netns  => 0,
        allow_log => [],
        running   => 0,
    }, $class;

    $self->{in_netns} = _enter_netns() if $opts{netns};

    $self->{prefix} = tempdir('tw-test-XXXXXXXX', TMPDIR => 1,
                              CLEANUP => !$ENV{TEST_NGINX_LEAVE});
    Test::More::diag("test prefix kept: $self->{prefix}")
        if $ENV{TEST_NGINX_LEAVE};

    $self->{ports} = _choose_ports($self->{in_netns});

    $LIVE{"$self"} = $self;
    weaken($LIVE{"$self"});

    return $self;
}

sub prefix   { $_[0]{prefix} }
sub binary   { $_[0]{binary} }

# $t->version_at_least('1.27.4'): the nginx under test is that version or
# later
sub version_at_least {
    my ($self, $want) = @_;
    my ($have) = `$self->{binary} -v 2>&1` =~ m{nginx/(\d+\.\d+\.\d+)};
    my $key = sub { sprintf '%03d%03d%03d', split /\./, $_[0] };
    return defined $have && $key->($have) ge $key->($want);
}
sub repo     { $REPO_ROOT }
sub in_netns { $_[0]{in_netns} }

sub port {
    my ($self, $name) = @_;
    $name = 'PORT' unless defined $name;
    $name = uc $name;
    $name = "PORT_$name" unless $name =~ /^PORT/;
    my $port = $self->{ports}{$name};
    croak "unknown port name '$name'" unless defined $port;
    return $port;
}

sub need_netns {
    my ($self) = @_;
    return 1 if $self->{in_netns};
    Test::More::plan(skip_all =>
        'needs root for a private network namespace');
}

sub test_globals {
    my ($self) = @_;
    my $p = $self->{prefix};
    my @lines = (
        'daemon on;',
        'master_process on;',
        "worker_processes $self->{workers};",
        "pid $p/nginx.pid;",
        "error_log $p/error.log $self->{log_level};",
    );
    push @lines, 'user root;' if $> == 0;
    push @lines, "load_module $self->{module};" if $self->{module};
    push @lines, $ENV{TEST_NGINX_GLOBALS} if $ENV{TEST_NGINX_GLOBALS};
    return _one_line(@lines);
}

sub test_globals_http {
    my ($self) = @_;
    my $p = $self->{prefix};
    my @lines = (
        "access_log $p/access.log;",
        "client_body_temp_path $p/client_body_temp;",
        "proxy_temp_path $p/proxy_temp;",
        "fastcgi_temp_path $p/fastcgi_temp;",
        "uwsgi_temp_path $p/uwsgi_temp;",
        "scgi_temp_path $p/scgi_temp;",
    );
    push @lines, $ENV{TEST_NGINX_GLOBALS_HTTP}
        if $ENV{TEST_NGINX_GLOBALS_HTTP};
    return _one_line(@lines);
}

# The globals are expanded on a single line, so that line numbers in a
# template are line numbers in the written configuration.
sub _one_line {
    return join ' ', map { (my $l = $_) =~ s/\s*\n\s*/ /g; $l } @_;
}

# Expand the %%...%% placeholders of a configuration template.
sub expand {
    my ($self, $text) = @_;

    # one line, so that line numbers stay those of the template
    $text =~ s/%%STATUS_SERVER%%/$STATUS_SERVER/g;
    $text =~ s/%%TEST_GLOBALS%%/$self->test_globals/ge;
    $text =~ s/%%TEST_GLOBALS_HTTP%%/$self->test_globals_http/ge;
    $text =~ s/%%PREFIX%%/$self->{prefix}/g;
    $text =~ s/%%(PORT(?:_\d|_STATUS)?)%%/$self->port($1)/ge;

    if ($text =~ /(%%[A-Z][A-Z0-9_]*%%)/) {
        croak "unknown placeholder $1 in configuration";
    }
    return $text;
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = $self->_path($name);
    make_path(dirname($path));
    open my $fh, '>', $path or croak "cannot write $path: $!";
    print {$fh} $content;
    CORE::close($fh) or croak "cannot write $path: $!";
    return $path;
}

sub write_conf {
    my ($self, $template) = @_;
    my $conf = $self->expand($template);

    $self->{uses_status_port} =
        $template =~ /%%(PORT_STATUS|STATUS_SERVER)%%/ ? 1 : 0;
    $self->{conf} = $conf;
    $self->write_file('nginx.conf', $conf);
    return $conf;
}

sub conf_file { $_[0]{prefix} . '/nginx.conf' }

###########################################################################
# Process control
###########################################################################

sub run {
    my ($self) = @_;
    my $bin = $self->{binary};

    Test::More::BAIL_OUT("build first: make (no nginx binary at $bin)")
        unless -f $bin && -x _;
    croak 'write_conf() must be called before run()'
        unless defined $self->{conf};
    croak 'nginx is already running' if $self->{running};

    unlink $self->_path('nginx.pid');

    my $out = $self->_path('nginx-start.out');
    my ($rc) = _run_cmd([$self->_valgrind, $self->_nginx_args('error.log')],
                        timeout => 10, output => $out);

    if (!defined $rc || $rc != 0) {
        $self->_kill_leftovers;
        die $self->_start_failure('nginx failed to start'
            . (defined $rc ? " (exit code $rc)" : ' (timeout)'));
    }

    $self->{running} = 1;

    my $ready = wait_until(sub {
        my $pid = $self->master_pid;
        return 0 unless $pid && !_pid_gone($pid);
        $self->{master} = $pid;
        return $self->_workers_ready && $self->_listening;
    }, timeout => 10);

    if (!$ready) {
        $self->stop(fast => 1);
        die $self->_start_failure('nginx did not become ready in 10 s');
    }
    return 1;
}

# run_preloaded('clockshift.so', TW_CLOCK_SHIFT => $file): nginx with one
# of the test libraries of build/unit preloaded (the test skips itself
# when it is not built: preload_lib), and the variables it reads at load
sub preload_lib {
    my ($self, $name) = @_;
    my $lib = "$REPO_ROOT/build/unit/$name";
    Test::More::plan(skip_all => "$lib not built (make unit)") unless -f $lib;
    return $lib;
}

sub run_preloaded {
    my ($self, $name, %env) = @_;
    local $ENV{LD_PRELOAD} = $self->preload_lib($name);
    local @ENV{ keys %env } = values %env;

    # the library comes before AddressSanitizer's runtime
    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
        $ENV{ASAN_OPTIONS}, 'verify_asan_link_order=0';

    return $self->run;
}

sub stop {
    my ($self, %opts) = @_;
    return 1 unless $self->{running};

    my $pid = $self->master_pid // $self->{master};
    $self->{running} = 0;
    return 1 unless $pid;

    # Remember every child, in case the master has to be killed.
    my @children = _children_of($pid);

    my @plan = $opts{fast}
        ? (['TERM', 10], ['KILL', 5])
        : (['QUIT', 10], ['TERM', 5], ['KILL', 5]);

    my $gone = 0;
    for my $step (@plan) {
        my ($sig, $wait) = @$step;
        kill $sig, $pid;
        $gone = wait_until(sub { _pid_gone($pid) }, timeout => $wait);
        last if $gone;
        Test::More::diag("nginx master $pid did not exit on $sig");
    }

    for my $child (@children) {
        kill 'KILL', $child unless _pid_gone($child);
    }
    return $gone ? 1 : 0;
}

sub reload {
    my ($self, %opts) = @_;
    my $timeout = $opts{timeout} // 10;
    my $master = $self->master_pid or return 0;

    my %before = map { $_ => 1 } _children_of($master);
    my $log_size = -s $self->_path('error.log') // 0;

    kill 'HUP', $master;

    my $ok = wait_until(sub {
        # A configuration error makes the master keep its old workers.
        return -1 if $self->_log_since($log_size) =~ /\[emerg\]/;
        my @new = grep { !$before{$_} } $self->worker_pids;
        return 0 if @new < $self->_expected_workers;

        # the old workers still accept until they handle the master's
        # QUIT; a connection they take would be closed as nginx exits
        return 0 if grep { $before{$_} } $self->worker_pids;

        return $self->_listening;
    }, timeout => $timeout);

    return $ok && $ok > 0 ? 1 : 0;
}

sub nginx_t {
    my ($self, %opts) = @_;
    my $out = $self->_path('nginx-t.out');
    my ($rc, $output) = _run_cmd([$self->_nginx_args('nginx-t.log'), '-t'],
                                 timeout => $opts{timeout} // 10,
                                 output => $out);
    return ($rc // -1, $output // '');
}

sub conf_error_ok {
    my ($self, $conf, $re, $line, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $name //= 'configuration error';

    # Keep the previous configuration so that a running nginx (or a later
    # reload) is not affected by the broken one.
    my ($old_conf, $old_status) = @$self{qw(conf uses_status_port)};

    $self->write_conf($conf);
    my ($rc, $out) = $self->nginx_t;

    my $where = $self->conf_file . ":$line";
    Test::More::ok($rc != 0, "$name: nginx -t fails")
        or Test::More::diag($out);
    Test::More::like($out, $re, "$name: message");
    Test::More::ok($out =~ /\Q$where\E(?!\d)/, "$name: at $where")
        or Test::More::diag($out);

    if (defined $old_conf) {
        $self->{conf} = $old_conf;
        $self->{uses_status_port} = $old_status;
        $self->write_file('nginx.conf', $old_conf);
    }
    return $rc != 0;
}

sub pid_alive {
    my ($self, $pid) = @_;
    return $pid && !_pid_gone($pid) ? 1 : 0;
}

sub master_pid {
    my ($self) = @_;
    my $pid = $self->read_file('nginx.pid');
    return undef unless defined $pid && $pid =~ /^\s*(\d+)\s*$/;
    return $1 + 0;
}

# Active worker processes of the master (not the cache manager/loader, not
# old workers that are shutting down after a reload).  all => 1 returns
# every child of the master.
sub worker_pids {
    my ($self, %opts) = @_;
    my $master = $self->master_pid or return ();
    my @pids = _children_of($master);

    # under valgrind nginx cannot retitle its processes
    return @pids if $opts{all} || $ENV{TEST_NGINX_VALGRIND};

    return grep {
        my $cmd = _slurp("/proc/$_/cmdline") // '';
        $cmd =~ /worker process/ && $cmd !~ /shutting down/;
    } @pids;
}

###########################################################################
# Raw sockets and HTTP
###########################################################################

sub connect {
    my ($self, %opts) = @_;
    my $port = $opts{port} // $self->port;
    my $s = IO::Socket::INET->new(
        PeerAddr => $opts{host} // '127.0.0.1',
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $opts{timeout} // $DEFAULT_TIMEOUT,
    );
    $self->{last_error} = "connect to port $port: $@" unless $s;

    # case_ok() counts the TIME-WAIT sockets of the connections it made
    push @{ $self->{made} }, [$port, $s->sockport] if $s && $self->{made};

    return $s;
}

sub connect6 {
    my ($self, %opts) = @_;
    require IO::Socket::IP;
    my $port = $opts{port} // $self->port;
    my $s = IO::Socket::IP->new(
        PeerHost => $opts{host} // '::1',
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $opts{timeout} // $DEFAULT_TIMEOUT,
    );
    $self->{last_error} = "connect to [::1]:$port: $@" unless $s;
    return $s;
}

sub send_raw {
    my ($self, $s, $bytes, %opts) = @_;
    my $deadline = time + ($opts{timeout} // $DEFAULT_TIMEOUT);
    my $sel = IO::Select->new($s);
    local $SIG{PIPE} = 'IGNORE';

    my $off = 0;
    while ($off < length $bytes) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_write($left)) {
            $self->{last_error} = 'timeout';
            return undef;
        }
        my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
            $self->{last_error} = "write: $!";
            return undef;
        }
        $off += $n;
    }
    return 1;
}

sub read_response {
    my ($self, $s, %opts) = @_;
    my $deadline = time + ($opts{timeout} // $DEFAULT_TIMEOUT);
    my $buf = \${*$s}{tw_buf};
    $$buf //= '';

    while (1) {
        my ($resp, $used, $err) = _parse_response($$buf, $opts{head});
        if ($err) {
            $self->{last_error} = $err;
            return undef;
        }
        if ($resp && defined $used) {
            $resp->{raw} = substr($$buf, 0, $used, '');
            return $resp;
        }

        my $n = $self->_fill($s, $deadline);
        next if $n;
        return undef unless defined $n;

        # EOF: complete only when the body is delimited by the close.
        if ($resp && $resp->{until_eof}) {
            delete $resp->{until_eof};
            $resp->{body} = substr($$buf, $resp->{header_length});
            $resp->{raw} = $$buf;
            $$buf = '';
            return $resp;
        }
        $self->{last_error} = 'eof';
        return undef;
    }
}

sub http {
    my ($self, $request, %opts) = @_;
    my $s = $self->connect(%opts) or return undef;
    my $cport = $s->sockport;

    my $resp;
    if ($self->send_raw($s, $request, %opts)) {
        $resp = $self->read_response($s, %opts);
    }

    # Let the server close first when it is going to, so that who closed
    # the connection does not depend on timing.
    $self->wait_close($s, %opts) if $opts{wait_close};
    CORE::close($s);

    $resp->{client_port} = $cport if $resp;
    return $resp;
}

sub http_get {
    my ($self, $path, %opts) = @_;
    my $close  = $opts{close} // 1;
    my $method = $opts{method} // 'GET';

    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @{ $opts{headers} // [] };
    $req .= "Connection: close\r\n" if $close;
    $req .= "\r\n";

    return $self->http($req, %opts, wait_close => $close,
                       head => $opts{head} // $method eq 'HEAD');
}

sub half_close {
    my ($self, $s) = @_;
    return shutdown($s, SHUT_WR);
}

# a client that half-closes with its request (nc -N, some health
# checkers): TCP_CORK makes the kernel carry the request and the FIN in
# one segment, so the FIN is surely in before nginx answers; then the
# answer, and the client closes once nginx has

sub request_half_closed {
    my ($self, $request) = @_;
    my $cork = eval { Socket::TCP_CORK() } // 3;

    my $s = $self->connect;
    setsockopt($s, Socket::IPPROTO_TCP(), $cork, 1) or die "cork: $!\n";
    $self->send_raw($s, $request);
    $self->half_close($s);
    $self->read_response($s) or die "no response\n";
    $self->wait_close($s);
    $self->close($s);
}

sub reset {
    my ($self, $s) = @_;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
        or return undef;
    return CORE::close($s);
}

sub close {
    my ($self, $s) = @_;
    return CORE::close($s);
}

sub wait_close {
    my ($self, $s, %opts) = @_;
    my $deadline = time + ($opts{timeout} // $DEFAULT_TIMEOUT);
    ${*$s}{tw_buf} = '';

    my $sel = IO::Select->new($s);
    while (1) {
        my $left = $deadline - time;
        return 'timeout' if $left <= 0 || !$sel->can_read($left);

        my $n = sysread($s, my $junk, 65536);
        return 'eof' if defined $n && $n == 0;
        next if defined $n;
        next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
        return 'reset' if $! == ECONNRESET;
        $self->{last_error} = "read: $!";
        return 'error';
    }
}

sub local_port {
    my ($self, $s) = @_;
    return $s->sockport;
}

# backend(port => $p, handler => sub { my ($sock, $request) = @_; ... })
# A scripted backend in a child process: it accepts at most "max" (50)
# connections for at most "seconds" (60), reads each request's header and
# hands the socket and the header to the handler, then closes.  Stopped
# by done().  Returns the child's pid.
sub backend {
    my ($self, %o) = @_;
    my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $o{port}, Listen => 64,
                                   ReuseAddr => 1)
        or croak "backend on port $o{port}: $!";

    my $pid = fork // croak "fork: $!";

    if ($pid) {
        CORE::close($ls);
        push @{ $self->{backends} }, $pid;
        return $pid;
    }

    alarm($o{seconds} // 60);

    for (1 .. $o{max} // 50) {
        my $c = $ls->accept or last;
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            sysread($c, $req, 4096, length $req) or last;
        }
        $o{handler}->($c, $req);
        CORE::close($c);
    }

    POSIX::_exit(0);
}

sub _stop_backends {
    my ($self) = @_;
    for my $pid (@{ delete $self->{backends} // [] }) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

# close_all(\@sockets, expect => 'eof', timeout => 5): waits until the
# server has ended each connection the expected way ('eof', 'reset'),
# closes them, and dies on the first that ended otherwise.
sub close_all {
    my ($self, $sockets, %o) = @_;
    my $expect = $o{expect} // 'eof';

    for my $s (@$sockets) {
        my $how = $self->wait_close($s, timeout => $o{timeout} // 5);
        die "expected $expect, got $how\n" unless $how eq $expect;
        CORE::close($s);
    }
}

# parallel($port, $raw, $end, $n): a run for case_ok() that opens n
# connections at once, sends each the bytes, then waits until each ends
# as $end says ('eof' or 'reset')
sub parallel {
    my ($self, $port, $raw, $end, $n) = @_;
    return sub {
        my @s = map {
            my $s = $self->connect(port => $port);
            $self->send_raw($s, $raw);
            $s;
        } 1 .. $n;
        $self->close_all(\@s, expect => $end, timeout => 6);
    };
}

# tls_cert(): a self-signed certificate for localhost, as
# PREFIX/cert.pem and PREFIX/key.pem
sub tls_cert {
    my ($self) = @_;
    my $p = $self->{prefix};
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 2"
           . " -subj /CN=localhost -keyout $p/key.pem -out $p/cert.pem"
           . " >/dev/null 2>&1") == 0
        or Test::More::BAIL_OUT('openssl could not make a certificate');
}

# promtool_ok($metrics, $name): "promtool check metrics" accepts the
# text; skipped (as one test) when promtool is not installed
sub promtool_ok {
    my ($self, $metrics, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    SKIP: {
        Test::More::skip('promtool (Debian package prometheus) is not'
                         . ' installed', 1) unless have('promtool');

        my $file = "$self->{prefix}/metrics.txt";
        $self->write_file('metrics.txt', $metrics);

        my $out = `promtool check metrics < $file 2>&1`;
        Test::More::is($?, 0, $name) or Test::More::diag($out);
    }

    return;
}

# TwTest::unit_tests('classify'): runs build/unit/classify, a C program
# of t/unit/ built by "make unit" that prints TAP, as this file's tests:
# one per line, then whether all planned ran and the exit code.  Skips
# the file when the program is not built.
sub unit_tests {
    my ($name) = @_;
    my $bin = "$REPO_ROOT/build/unit/$name";

    Test::More::plan(skip_all => "$bin not built (make unit)")
        unless -x $bin;

    my @lines = `$bin`;
    my $rc = $?;

    my ($planned) = map { /^1\.\.(\d+)/ ? $1 : () } @lines;
    my $n = 0;

    for my $line (@lines) {
        chomp $line;

        if ($line =~ /^(not ok|ok) \d+ - (.*)$/) {
            Test::More::ok($1 eq 'ok', $2);
            $n++;

        } elsif ($line =~ /^Bail out! (.*)/) {
            Test::More::fail($1);

        } elsif ($line =~ /^#(.*)/) {
            Test::More::diag($1);
        }
    }

    Test::More::ok($planned && $n == $planned, "ran all $n unit tests");
    Test::More::is($rc, 0, 'unit test program exit code');
    Test::More::done_testing();
}

# TwTest::have('curl', ...): every named program is on PATH
sub have {
    shift if blessed $_[0] && $_[0]->isa(__PACKAGE__);
    for my $tool (@_) {
        return 0 unless grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    }
    return 1;
}

###########################################################################
# Kernel view: TIME-WAIT sockets
###########################################################################

sub who_closed {
    my ($self, $cport, %opts) = @_;
    my $sport = $opts{port} // $self->port;
    my $who = 'none';

    wait_until(sub {
        for my $tw (_time_wait_sockets()) {
            my ($local, $peer) = @$tw;
            return $who = 'server' if $local == $sport && $peer == $cport;
            return $who = 'client' if $local == $cport && $peer == $sport;
        }
        return 0;
    }, timeout => $opts{timeout} // 1);

    return $who;
}

# tw_server(port => P, peers => [client ports], since => $mark): the
# TIME-WAIT sockets on the server's side of port P, of those client ports
# only if given, and only those that tw_mark() did not see if "since" is
# given
sub tw_server {
    my ($self, %opts) = @_;
    my $port = $opts{port} // $self->port;
    my %peer = map { $_ => 1 } @{ $opts{peers} // [] };
    my $old = $opts{since} // {};
    return scalar grep {
        $_->[0] == $port && (!$opts{peers} || $peer{ $_->[1] })
        && !$old->{"$_->[2] $_->[3]"}
    } _time_wait_sockets();
}

sub tw_client {
    my ($self, %opts) = @_;
    my $port = $opts{port} // $self->port;
    my %peer = map { $_ => 1 } @{ $opts{peers} // [] };
    my $old = $opts{since} // {};
    return scalar grep {
        $_->[1] == $port && (!$opts{peers} || $peer{ $_->[0] })
        && !$old->{"$_->[2] $_->[3]"}
    } _time_wait_sockets();
}

# tw_mark(): the TIME-WAIT sockets of the namespace now, either side, for
# the "since" of tw_server() and tw_client().  A count taken against an
# earlier count of the whole port loses the TIME-WAITs that end in
# between (60 s after they began, in a long test file); one that leaves
# out the sockets of the mark does not.  A new TIME-WAIT of a marked
# socket's 4-tuple is left out too: on the server's side a client's SYN
# from the same port can end the old one and its close make the new one
# (the test namespaces turn tcp_tw_reuse off, so on the client's side a
# TIME-WAIT's ports are not given to a new connection).
sub tw_mark {
    return { map { ("$_->[2] $_->[3]" => 1) } _time_wait_sockets() };
}

# tw_all(): every TIME-WAIT socket in the namespace, of either side
sub tw_all {
    return scalar(() = _time_wait_sockets());
}

sub wait_tw_server {
    my ($self, $n, %opts) = @_;
    my $count = 0;
    wait_until(sub { ($count = $self->tw_server(%opts)) >= $n },
               timeout => $opts{timeout} // 8);
    return $count;
}

sub wait_tw_client {
    my ($self, $n, %opts) = @_;
    my $count = 0;
    wait_until(sub { ($count = $self->tw_client(%opts)) >= $n },
               timeout => $opts{timeout} // 8);
    return $count;
}

# kernel_counter('TcpExtTCPAbortOnData'): one of the kernel's TCP counters
# (/proc/net/netstat and /proc/net/snmp), for this network namespace.
# The kernel's TCP counters that tell where a TIME-WAIT went, or why one
# never came; and, when the kernel disagreed with a scenario, what moved
# and the sockets of the scenario's ports.
my @TCP_DIAG = qw(TcpOutRsts TcpEstabResets TcpAttemptFails TcpExtTW
    TcpExtTWRecycled TcpExtTWKilled TcpExtTCPTimeWaitOverflow
    TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnTimeout
    TcpExtTCPAbortOnLinger TcpExtListenDrops TcpExtListenOverflows
    TcpExtTCPBacklogDrop TcpExtTCPRcvQDrop TcpExtTCPOFODrop
    TcpExtTCPChallengeACK TcpExtTCPSYNChallenge TcpExtPAWSEstab
    TcpExtTCPTimeouts TcpRetransSegs);

sub tcp_counters {
    my ($self) = @_;
    return map {
        my $n = $_;
        my $v = eval { $self->kernel_counter($n) };
        defined $v ? ($n => $v) : ();
    } @TCP_DIAG;
}

sub kernel_diag {
    my ($self, $port, $before) = @_;
    my %after = $self->tcp_counters;
    my @moved = map { "$_ +" . ($after{$_} - $before->{$_}) }
        grep { exists $before->{$_} && $after{$_} != $before->{$_} }
        @TCP_DIAG;
    Test::More::diag('kernel counters moved: '
                     . (@moved ? join(', ', @moved) : 'none'));

    return unless defined $port->{port};
    my %peer = map { $_ => 1 } @{ $port->{peers} // [] };
    my ($rc, $out) = _run_cmd(['ss', '-Htan'], timeout => 5);
    for my $line (split /\n/, $out // '') {
        my @ports = map { /:(\d+)$/ ? $1 : () } split ' ', $line;
        next unless grep { $_ == $port->{port} } @ports;
        next if %peer && !grep { $peer{$_} } @ports;
        Test::More::diag("ss: $line");
    }
}

sub kernel_counter {
    my ($self, $name) = @_;
    my ($prefix, $field) = $name =~ /^(TcpExt|Tcp|IpExt|Ip)(\w+)$/
        or croak "unknown counter name '$name'";

    for my $file ('/proc/net/netstat', '/proc/net/snmp') {
        open my $fh, '<', $file or next;
        my @lines = <$fh>;
        for my $i (0 .. $#lines - 1) {
            my ($p1, @names) = split ' ', $lines[$i];
            my ($p2, @values) = split ' ', $lines[$i + 1];
            next unless $p1 eq "$prefix:" && $p2 eq "$prefix:";
            for my $j (0 .. $#names) {
                return $values[$j] if $names[$j] eq $field;
            }
        }
    }

    croak "kernel counter $name not found";
}

###########################################################################
# Module status
###########################################################################

sub _status_port {
    my ($self, %opts) = @_;
    return $opts{port} if defined $opts{port};
    return $self->port($self->{uses_status_port} ? 'PORT_STATUS' : 'PORT');
}

sub status {
    my ($self, %opts) = @_;
    my $port = $self->_status_port(%opts);
    my $path = $opts{path} // '/tw_status';
    $path .= ($path =~ /\?/ ? '&' : '?') . 'format=json';

    my $resp = $self->http_get($path, port => $port);
    die "status: no response from 127.0.0.1:$port$path"
        . " (" . ($self->{last_error} // '') . ")\n" unless $resp;
    die "status: 127.0.0.1:$port$path returned $resp->{status}:\n"
        . "$resp->{body}\n" unless $resp->{status} == 200;

    my $data = eval { JSON::PP->new->decode($resp->{body}) };
    die "status: 127.0.0.1:$port$path is not valid JSON: $@"
        . "$resp->{body}\n" unless ref $data;
    return $data;
}

sub status_text {
    my ($self, %opts) = @_;
    my $port = $self->_status_port(%opts);
    my $path = $opts{path} // '/tw_status';

    my $resp = $self->http_get($path, port => $port);
    die "status: no response from 127.0.0.1:$port$path"
        . " (" . ($self->{last_error} // '') . ")\n" unless $resp;
    die "status: 127.0.0.1:$port$path returned $resp->{status}:\n"
        . "$resp->{body}\n" unless $resp->{status} == 200;
    return $resp->{body};
}

# The status as one flat hash: "reason/closer" => n for every cell of the
# reason x closer table, plus accepted, open, closed, excluded, requests.
sub counts {
    my ($self, %opts) = @_;
    my $st = $self->status(%opts);
    my %c;

    for my $reason (keys %{ $st->{reasons} }) {
        for my $closer (keys %{ $st->{closers} }) {
            $c{"$reason/$closer"} = $st->{reasons}{$reason}{$closer};
        }
    }

    $c{$_} = $st->{connections}{$_} for keys %{ $st->{connections} };
    $c{requests} = $st->{requests};
    $c{generation} = $st->{generation};

    return \%c;
}

# settled(): the counts once nginx has accepted every connection made to
# its ports and no tracked connection is open (nginx may count a close a
# little after the client saw it, under memcheck more so; a connection
# still in the kernel's accept queue is not open yet)
sub settled {
    my ($self, %opts) = @_;
    my $timeout = $opts{timeout} // 10;
    my $c = wait_until(sub {
        return undef unless $self->_accepted_all;
        my $c = $self->counts(%opts);
        return $c->{open} == 0 ? $c : undef;
    }, timeout => $timeout);
    return $c if $c;

    # a close never counted leaves its connection open for ever: the
    # books add up all the same (open is what is neither closed nor
    # lost), so this is where it shows

    $c = $self->counts(%opts);
    Test::More::fail("settled: $c->{open} still open after ${timeout}s,"
                     . ($self->_accepted_all ? ' none'
                                             : ' some still')
                     . ' in an accept queue');
    return $c;
}

# the accept queues of nginx's listening sockets are empty (Recv-Q of a
# listening socket is its accept queue)
sub _accepted_all {
    my ($self) = @_;
    my %mine = map { $_ => 1 } $self->_listen_ports;
    my ($rc, $out) = _run_cmd(['ss', '-Hltn'], timeout => 5);
    return 1 unless defined $rc && $rc == 0;

    for my $line (split /\n/, $out) {
        my (undef, $queued, undef, $local) = split ' ', $line;
        next unless defined $local && $local =~ /:(\d+)$/ && $mine{$1};
        return 0 if $queued > 0;
    }
    return 1;
}

# moved_ok($before, $after, { 'client_close/server' => 3 }, $name): every
# reason/closer cell moved by exactly what is listed, and no other moved.
sub moved_ok {
    my ($self, $before, $after, $expect, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad;

    for my $key (sort keys %$after) {
        next unless $key =~ m{/};
        my $moved = $after->{$key} - ($before->{$key} // 0);
        my $want = $expect->{$key} // 0;
        push @bad, "$key moved by $moved, expected $want"
            if $moved != $want;
    }

    for my $key (sort keys %$expect) {
        push @bad, "$key: no such counter" unless exists $after->{$key};
    }

    return Test::More::ok(!@bad, $name)
        || Test::More::diag(join "\n", @bad);
}

# conservation_ok($counts, $name): accepted == every reason + open + lost
# (connections of worker processes that died), the close total is the sum
# of the table, and nothing landed in "other".
sub conservation_ok {
    my ($self, $c, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $sum = 0;
    my $other = 0;

    for my $key (grep { m{/} } keys %$c) {
        $sum += $c->{$key};
        $other += $c->{$key} if $key =~ m{^other/};
    }

    my $lost = $c->{lost} // 0;
    my $ok = $c->{accepted} == $sum + $c->{open} + $lost
        && $c->{closed} == $sum && $other == 0;

    return Test::More::ok($ok, $name // 'conservation')
        || Test::More::diag("accepted $c->{accepted}, closed $c->{closed},"
                            . " sum of reasons $sum, open $c->{open},"
                            . " lost $lost, other $other");
}

# case_ok(name => 'keepalive_timeout', n => 5, run => sub { ... },
#         expect => { 'keepalive_timeout/server' => 5 },
#         tw_server => 5, tw_client => 0, port => $port)
#
# Runs the scenario n times (run gets the iteration number and must leave
# its connection closed, or closing on the server's side; a run that dies
# is one failed check, and nothing else is checked), waits until no
# tracked connection is open, then asserts: the counters moved exactly as
# expected and nothing else moved; the kernel shows exactly tw_server new
# TIME-WAIT sockets on the server port and tw_client on the client side;
# the books balance.  Returns the counts after.  expect, accepted,
# tw_server and tw_client may be code that gives the value after the run,
# for a scenario that tries again until the kernel does what it needs.
sub case_ok {
    my ($self, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = $o{name};
    my %port = (port => $o{port} // $self->port);

    my $before = $self->settled;
    my $tws = $self->tw_server(%port);
    my $twc = $self->tw_client(%port);
    my %kernel = $self->tcp_counters;

    # the client ports of the scenario's own connections: on loopback a
    # new connection may take over an older TIME-WAIT of the same ports,
    # so only the scenario's own 4-tuples are counted when they are known
    $self->{made} = [];

    # a scenario that dies fails its case, and the cases after it still
    # run: their counts start from a settled zone

    if (!eval { $o{run}->($_) for 1 .. $o{n}; 1 }) {
        my $err = $@;
        delete $self->{made};
        Test::More::fail("$name: the scenario ran");
        Test::More::diag("$name: $err");
        return undef;
    }

    for my $k (qw(expect accepted tw_server tw_client)) {
        $o{$k} = $o{$k}->() if ref $o{$k} eq 'CODE';
    }
    my @made = map { $_->[1] } grep { $_->[0] == $port{port} }
        @{ delete $self->{made} };

    my $after = $self->settled(timeout => $o{timeout} // 10);

    # all of them known: as many as expected, or as the module counted
    # (an expectation that is wrong on purpose, t/49-harness-fails.t)

    if (@made && (@made == ($o{accepted} // $o{n})
                  || @made == $after->{accepted} - $before->{accepted}))
    {
        %port = (%port, peers => \@made);
        ($tws, $twc) = (0, 0);
    }

    $self->moved_ok($before, $after, $o{expect}, "$name: counters");

    Test::More::is($after->{accepted} - $before->{accepted},
                   $o{accepted} // $o{n}, "$name: accepted");

    # the kernel makes a TIME-WAIT socket as it processes the last FIN,
    # which a loaded machine may leave to ksoftirqd for a while: wait for
    # it (no longer than it takes to come)

    # every FIN-first close makes exactly one TIME-WAIT, on one side or
    # the other: with both sides given, wait for their total first, so a
    # TIME-WAIT that comes late is seen on whichever side it lands

    if (defined $o{tw_server} && defined $o{tw_client}) {
        my $want = $tws + $twc + $o{tw_server} + $o{tw_client};
        wait_until(sub {
            $self->tw_server(%port) + $self->tw_client(%port) >= $want
        }, timeout => 8);
    }

    if (defined $o{tw_server}) {
        my $want = $tws + $o{tw_server};
        $self->wait_tw_server($want, %port, timeout => 8);
        select undef, undef, undef, 0.2;
        Test::More::is($self->tw_server(%port) - $tws, $o{tw_server},
                       "$name: kernel TIME-WAIT on the server side")
            or $self->kernel_diag(\%port, \%kernel);
    }

    if (defined $o{tw_client}) {
        my $want = $twc + $o{tw_client};
        $self->wait_tw_client($want, %port, timeout => 8);
        select undef, undef, undef, 0.2 unless defined $o{tw_server};
        Test::More::is($self->tw_client(%port) - $twc, $o{tw_client},
                       "$name: kernel TIME-WAIT on the client side")
            or $self->kernel_diag(\%port, \%kernel);
    }

    $self->conservation_ok($after, "$name: accepted == closed + open");

    return $after;
}

# request($raw, %opts): one connection: send the bytes, read one response
# (unless no_response), then wait for the server to close (unless
# keep => 1, which returns the open socket instead).
sub request {
    my ($self, $raw, %opts) = @_;
    my $s = $self->connect(%opts) or return undef;
    $self->send_raw($s, $raw);
    my $r = $opts{no_response} ? undef : $self->read_response($s, %opts);
    return $s if $opts{keep};
    $self->wait_close($s, timeout => $opts{timeout} // 5);
    CORE::close($s);
    return $r;
}

###########################################################################
# Logs and the end of a test
###########################################################################

sub read_file {
    my ($self, $name) = @_;
    return _slurp($self->_path($name));
}

sub error_log {
    my ($self) = @_;
    return $self->read_file('error.log') // '';
}

sub wait_log {
    my ($self, $re, %opts) = @_;
    my $found;
    wait_until(sub {
        ($found) = grep { /$re/ } split /\n/, $self->error_log;
        return defined $found;
    }, timeout => $opts{timeout} // 3);
    return $found;
}

sub allow_log {
    my ($self, @res) = @_;
    push @{ $self->{allow_log} }, @res;
    return;
}

sub check_logs {
    my ($self) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my @lines = split /\n/, join "\n", grep { defined }
        map { $self->read_file($_) } qw(error.log nginx-start.out);
    my @allow = @{ $self->{allow_log} };
    @lines = grep { my $l = $_; !grep { $l =~ $_ } @allow } @lines;

    my %checks = (
        'no alert/emerg/crit in error.log' => qr/\[(?:alert|emerg|crit)\]/,
        'no sanitizer report'  => qr/Sanitizer|runtime error:/,
        'no worker crashed'    => qr/exited on signal/,
    );
    for my $name (sort keys %checks) {
        my @bad = grep { $_ =~ $checks{$name} } @lines;
        splice @bad, 20 if @bad > 20;
        Test::More::ok(!@bad, $name) or Test::More::diag(join "\n", @bad);
    }

    if ($ENV{TEST_NGINX_VALGRIND}) {
        my @found;
        for my $f (glob "$self->{prefix}/valgrind.*.log") {
            my $text = _slurp($f) // '';
            push @found, "$f:\n$text" if $text =~ /\S/;
        }
        Test::More::ok(!@found, 'no memcheck report')
            or Test::More::diag(join "\n", @found);
    }

    return;
}

sub done {
    my ($self) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    # every file that serves tw_status ends with the books balanced
    if ($self->{conf} && $self->{conf} =~ /\btw_status\s*;/
        && $self->master_pid && !$self->{no_final_check})
    {
        # settled(): a close never counted shows as a connection that
        # stays open after the test's own are all gone
        my $c = eval { $self->settled };
        if ($c) {
            $self->conservation_ok($c, 'final: accepted == closed + open,'
                                   . ' other == 0');
        } else {
            Test::More::fail("final status: $@");
        }
    }

    $self->stop;
    $self->_stop_backends;
    $self->check_logs;
    Test::More::done_testing();
    return;
}

###########################################################################
# Utilities
###########################################################################

# wait_until(sub { ... }, timeout => 3, interval => 0.05): call the sub until
# it returns a true value (returned) or the timeout passes (undef).
sub wait_until {
    shift if blessed $_[0] && $_[0]->isa(__PACKAGE__);
    my ($cond, %opts) = @_;
    my $deadline = time + ($opts{timeout} // 3);
    my $interval = $opts{interval} // 0.05;

    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep $interval;
    }
}

sub _path {
    my ($self, $name) = @_;
    return $name if File::Spec->file_name_is_absolute($name);
    return "$self->{prefix}/$name";
}

sub _slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    my $data = <$fh>;
    return $data // '';
}

sub _log_since {
    my ($self, $offset) = @_;
    my $log = $self->error_log;
    return length $log > $offset ? substr($log, $offset) : '';
}

sub _error_log_tail {
    my ($self, $n) = @_;
    my @lines = split /\n/, $self->error_log;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join "\n", @lines;
}

sub _start_failure {
    my ($self, $what) = @_;
    my $out = $self->read_file('nginx-start.out') // '';
    return "$what\n"
        . ($out ne '' ? "--- nginx output:\n$out\n" : '')
        . "--- error.log (tail):\n" . $self->_error_log_tail(30) . "\n";
}

# Arguments for the binary: -p, -c and, when supported, -e.
# TEST_NGINX_VALGRIND=1: every nginx process of the test runs under
# memcheck, which writes what it finds to PREFIX/valgrind.PID.log; the log
# checks at the end fail on any of it.  Leaks are not looked for: nginx
# leaves its pools to the process exit.
sub _valgrind {
    my ($self) = @_;
    return () unless $ENV{TEST_NGINX_VALGRIND};
    my $p = $self->{prefix};
    my $supp = "$REPO_ROOT/t/valgrind.supp";
    return ('valgrind', '--tool=memcheck', '--quiet', '--leak-check=no',
            '--num-callers=20', "--log-file=$p/valgrind.%p.log",
            (-f $supp ? "--suppressions=$supp" : ()));
}

sub _nginx_args {
    my ($self, $elog) = @_;
    my $p = $self->{prefix};
    my @args = ($self->{binary}, '-p', "$p/", '-c', "$p/nginx.conf");
    push @args, '-e', "$p/$elog" if $self->_has_e_flag;
    return @args;
}

sub _has_e_flag {
    my ($self) = @_;
    my $bin = $self->{binary};
    $HAS_E_FLAG{$bin} //= do {
        my ($rc, $out) = _run_cmd([$bin, '-h'], timeout => 5);
        ($out // '') =~ /^\s*-e\s/m ? 1 : 0;
    };
    return $HAS_E_FLAG{$bin};
}

sub _expected_workers {
    my ($self) = @_;
    my $conf = $self->{conf} // '';
    return 0 if $conf =~ /^\s*master_process\s+off\s*;/m;
    return 1 if $conf =~ /^\s*worker_processes\s+auto\s*;/m;
    return $1 if $conf =~ /^\s*worker_processes\s+(\d+)\s*;/m;
    return 1;
}

sub _workers_ready {
    my ($self) = @_;
    return $self->worker_pids >= $self->_expected_workers;
}

# TCP ports from the "listen" directives of the current configuration.
sub _listen_ports {
    my ($self) = @_;
    my %ports;
    for my $line (split /\n/, $self->{conf} // '') {
        next unless $line =~ /^\s*listen\s+([^\s;]+)([^;]*)/;
        my ($addr, $rest) = ($1, $2);
        next if $addr =~ /^unix:/ || $rest =~ /\bquic\b/;
        $ports{$1} = 1 if $addr =~ /(?:^|:)(\d+)$/;
    }
    return sort { $a <=> $b } keys %ports;
}

# True when every listen port of the configuration has a listening socket.
# The kernel is asked instead of connecting, so that readiness checks do
# not show up in the module's connection counters.
sub _listening {
    my ($self) = @_;
    my @want = $self->_listen_ports or return 1;
    my ($rc, $out) = _run_cmd(['ss', '-Htln'], timeout => 5);
    return 0 unless defined $rc && $rc == 0;

    my %have;
    for my $line (split /\n/, $out) {
        my ($local) = grep { /:\d+$/ } split ' ', $line;
        $have{$1} = 1 if defined $local && $local =~ /:(\d+)$/;
    }
    return !grep { !$have{$_} } @want;
}

# All TIME-WAIT TCP sockets as [local port, peer port, local, peer].
sub _time_wait_sockets {
    my ($rc, $out) = _run_cmd(['ss', '-Htan', 'state', 'time-wait'],
                              timeout => 5);
    die "ss failed: " . ($out // 'timeout') unless defined $rc && $rc == 0;

    my @tw;
    for my $line (split /\n/, $out) {
        my @addr = grep { /:\d+$/ } split ' ', $line;
        next unless @addr >= 2;
        my ($lport) = $addr[0] =~ /:(\d+)$/;
        my ($pport) = $addr[1] =~ /:(\d+)$/;
        push @tw, [$lport, $pport, @addr[0, 1]];
    }
    return @tw;
}

# Live (non-zombie) children of $ppid, found through /proc.
sub _children_of {
    my ($ppid) = @_;
    my @pids;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my ($state, $parent) = _proc_stat($pid);
        next unless defined $parent && $parent == $ppid;
        push @pids, $pid + 0 unless $state eq 'Z';
    }
    closedir $dh;
    return sort { $a <=> $b } @pids;
}

# (state, ppid) from /proc/PID/stat; the command name may hold spaces.
sub _proc_stat {
    my ($pid) = @_;
    my $stat = _slurp("/proc/$pid/stat") // return;
    my $rest = substr($stat, rindex($stat, ')') + 2);
    my ($state, $ppid) = split ' ', $rest;
    return ($state, $ppid);
}

# A process is gone when it no longer exists or is a zombie (nothing may
# reap a daemon whose parent is PID 1).
sub _pid_gone {
    my ($pid) = @_;
    return 1 if !kill(0, $pid) && $! == ESRCH;
    my ($state) = _proc_stat($pid);
    return !defined $state || $state eq 'Z';
}

sub _kill_leftovers {
    my ($self) = @_;
    my $pid = $self->master_pid or return;
    kill 'KILL', $_ for _children_of($pid), $pid;
}

# Run a command with a time limit.  Output (stdout and stderr) goes to a
# file when output => FILE is given (needed for daemons, which would keep
# a pipe open), else to a pipe.  Returns (exit code, output); the exit code
# is undef on timeout (the command is then killed).
sub _run_cmd {
    my ($cmd, %opts) = @_;
    my @argv = @$cmd;
    my $deadline = time + ($opts{timeout} // 10);
    my $file = $opts{output};

    my ($rd, $wr);
    pipe($rd, $wr) or die "pipe: $!" unless defined $file;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        my $fh = $wr;
        if (defined $file) {
            open $fh, '>', $file or POSIX::_exit(126);
        } else {
            CORE::close($rd);
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $fh;
        open STDERR, '>&', $fh;
        {
            no warnings 'exec';
            exec { $argv[0] } @argv;
        }
        POSIX::_exit(127);
    }

    my $out = '';
    if (!defined $file) {
        CORE::close($wr);
        my $sel = IO::Select->new($rd);
        while ((my $left = $deadline - time) > 0) {
            next unless $sel->can_read($left);
            my $n = sysread($rd, $out, 65536, length $out);
            next if !defined $n && $! == EINTR;
            last unless $n;
        }
        CORE::close($rd);
    }

    my $done = wait_until(sub { waitpid($pid, WNOHANG) == $pid },
                          timeout => $deadline - time, interval => 0.01);
    if (!$done) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        return (undef, $out);
    }
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    $out = _slurp($file) // '' if defined $file;
    return ($rc, $out);
}

# Parse one response from the front of $buf.  Returns:
#   ()                         - need more data
#   ($resp, $length)           - complete response of $length bytes
#   ($resp, undef)             - headers complete, body runs until EOF
#   (undef, undef, $error)     - malformed
sub _parse_response {
    my ($buf, $head) = @_;

    return () unless $buf =~ /\r?\n\r?\n/;
    my $hlen = $+[0];
    my ($status_line, @hlines) = split /\r?\n/, substr($buf, 0, $-[0]);

    return (undef, undef, "bad status line: $status_line")
        unless $status_line =~ m{^HTTP/(\d\.\d)\s+(\d{3})(?:\s+(.*))?$};
    my %resp = (
        version       => $1,
        status        => $2 + 0,
        reason        => $3 // '',
        headers       => {},
        header_list   => [],
        header_length => $hlen,
        body          => '',
    );

    for my $h (@hlines) {
        next unless $h =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/;
        push @{ $resp{header_list} }, [$1, $2];
        my $k = lc $1;
        $resp{headers}{$k} = exists $resp{headers}{$k}
            ? "$resp{headers}{$k}, $2" : $2;
    }

    my $st = $resp{status};
    return (\%resp, $hlen) if $head || $st < 200 || $st == 204 || $st == 304;

    my $te = $resp{headers}{'transfer-encoding'} // '';
    if ($te =~ /chunked/i) {
        my $pos = $hlen;
        while (1) {
            my $eol = index($buf, "\n", $pos);
            return () if $eol < 0;
            my $line = substr($buf, $pos, $eol - $pos);
            return (undef, undef, "bad chunk size: $line")
                unless $line =~ /^([0-9a-fA-F]+)/;
            my $size = hex $1;
            $pos = $eol + 1;

            if ($size == 0) {
                # Trailer section ends with an empty line.
                while (1) {
                    my $e = index($buf, "\n", $pos);
                    return () if $e < 0;
                    my $t = substr($buf, $pos, $e - $pos);
                    $pos = $e + 1;
                    return (\%resp, $pos) if $t =~ /^\r?$/;
                }
            }
            return () if length($buf) < $pos + $size + 2;
            $resp{body} .= substr($buf, $pos, $size);
            $pos += $size;
            $pos += substr($buf, $pos, 1) eq "\r" ? 2 : 1;
        }
    }

    my $cl = $resp{headers}{'content-length'};
    if (defined $cl) {
        return (undef, undef, "bad content-length: $cl")
            unless $cl =~ /^\d+$/;
        return () if length($buf) < $hlen + $cl;
        $resp{body} = substr($buf, $hlen, $cl);
        return (\%resp, $hlen + $cl);
    }

    $resp{until_eof} = 1;
    return (\%resp, undef);
}

# Read more data into the socket's buffer: bytes read, 0 on EOF, undef on
# timeout or error (reason in last_error).
sub _fill {
    my ($self, $s, $deadline) = @_;
    my $sel = IO::Select->new($s);
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $self->{last_error} = 'timeout';
            return undef;
        }
        my $n = sysread($s, ${*$s}{tw_buf}, 65536, length ${*$s}{tw_buf});
        return $n if defined $n;
        next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
        $self->{last_error} = $! == ECONNRESET ? 'reset' : "read: $!";
        return undef;
    }
}

sub last_error { $_[0]{last_error} }

# Ports: fixed ones inside a private namespace (nothing else runs there),
# otherwise random ones outside the ephemeral range.  Each is checked by
# binding it; the probe sockets are held until all are chosen.
sub _choose_ports {
    my ($private) = @_;
    my ($lo, $hi) = split ' ',
        (_slurp('/proc/sys/net/ipv4/ip_local_port_range') // '32768 60999');

    my $next = $private ? 8080 : 10000 + int rand 15000;
    my (%ports, @held);
    for my $name (@PORT_NAMES) {
        for (1 .. 1000) {
            my $port = $next++;
            $next = 10000 if $next > 65000;
            next if $port >= $lo && $port <= $hi;
            my $s = IO::Socket::INET->new(
                LocalAddr => '127.0.0.1',
                LocalPort => $port,
                Proto     => 'tcp',
                Listen    => 1,
            ) or next;
            push @held, $s;
            $ports{$name} = $port;
            last;
        }
        croak "no free port found for $name" unless $ports{$name};
    }
    CORE::close($_) for @held;
    return \%ports;
}

# Enter a private network namespace (re-executing the test file once under
# unshare(1)) when possible.  Returns 1 when inside one.
sub _enter_netns {
    return $NETNS if defined $NETNS;

    my $ns = readlink('/proc/self/ns/net') // '';

    if (defined $ENV{$NETNS_ENV}) {
        my $orig = delete $ENV{$NETNS_ENV};
        if ($ns ne $orig) {
            my ($rc, $out) = _run_cmd(['ip', 'link', 'set', 'lo', 'up'],
                                      timeout => 5);
            die "cannot bring up lo in the network namespace: "
                . ($out // 'timeout') unless defined $rc && $rc == 0;

            # RFC 1337: a TIME-WAIT socket ignores RSTs.  Without it the
            # client's kernel may kill the server's TIME-WAIT: its ACK of
            # nginx's FIN can go out after its own FIN (softirq and close()
            # on two CPUs), the TIME-WAIT answers that old ACK, the client
            # socket is gone by then and answers with an RST.  Captured
            # once in 60 loaded runs of t/27-tls.t; the kernel's count then
            # misses a TIME-WAIT that nginx's FIN made.
            #
            # tcp_tw_reuse 0: connect() never takes over a TIME-WAIT of
            # the client's side.  With Linux's default (2: on loopback) a
            # client's new connection may take the 4-tuple of one of its
            # earlier ones, and the earlier one's TIME-WAIT is gone from
            # the count (TcpExtTWRecycled; seen with ab in t/20).
            for (['tcp_rfc1337', 1], ['tcp_tw_reuse', 0]) {
                my ($name, $value) = @$_;
                open my $fh, '>', "/proc/sys/net/ipv4/$name" or next;
                print $fh "$value\n";
                CORE::close($fh);
            }

            return $NETNS = 1;
        }
        return $NETNS = 0;
    }

    return $NETNS = 0 unless $> == 0;

    my $tb = Test::More->builder;
    croak 'TwTest->new(netns => 1) must be called before any test output'
        if $tb->current_test || $tb->has_plan;

    my ($rc) = _run_cmd(['unshare', '--net', '--', 'true'], timeout => 5);
    return $NETNS = 0 unless defined $rc && $rc == 0;

    my @cmd = ('unshare', '--net', '--', $^X, _perl_switches(), $0,
               @ORIG_ARGV);
    local $ENV{$NETNS_ENV} = $ns;
    STDOUT->flush;
    STDERR->flush;
    {
        no warnings 'exec';
        exec @cmd;
    }

    Test::More::diag("cannot exec unshare: $!");
    return $NETNS = 0;
}

# Switches to give a re-executed perl the same @INC (additions made with
# -I or "use lib" before new() was called) and warnings/taint mode.
sub _perl_switches {
    my ($rc, $out) = _run_cmd([$^X, '-e', 'print "$_\n" for @INC'],
                              timeout => 10);
    my %default = map { $_ => 1 } split /\n/, $out // '';
    my @inc = grep { !ref && !$default{$_} } @INC;

    my @sw = map { "-I$_" } @inc;
    push @sw, '-w' if $^W;
    push @sw, '-T' if ${^TAINT} > 0;
    return @sw;
}

# Stop whatever nginx a test left running (e.g. after a die).
END {
    my $status = $?;
    for my $t (grep { defined } values %LIVE) {
        next unless $t->{owner} == $$ && $t->{running};
        $t->stop(fast => 1);
    }
    $? = $status;
}

sub DESTROY {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    local ($?, $!, $@);
    $self->stop(fast => 1) if $self->{running};
    $self->_stop_backends;
    delete $LIVE{"$self"};
}

1;

__END__

=head1 NAME

TwTest - harness for testing nginx with ngx_http_tw_module

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use TwTest;

    my $t = TwTest->new(netns => 1);    # before any test output
    $t->need_netns;                     # skip unless in a private netns

    $t->write_conf(<<'EOF');
    %%TEST_GLOBALS%%
    events { }
    http {
        %%TEST_GLOBALS_HTTP%%
        server {
            listen 127.0.0.1:%%PORT%%;
            location / { return 200 "ok\n"; }
        }
    }
    EOF
    $t->run;

    my $r = $t->http_get('/');
    is($r->{status}, 200, 'request');

    $t->done;                           # stop, check logs, done_testing

=head1 DESCRIPTION

Each C<TwTest> object owns a temporary prefix directory, a set of free TCP
ports and one nginx instance (master process plus workers) started from a
configuration template.  Helpers open raw TCP connections, read HTTP
responses, control who closes a connection and how, and ask the kernel
(via L<ss(8)>) which side of a connection ended up in TIME-WAIT.

Every wait is bounded by a timeout; helpers return C<undef> (or
C<'timeout'>) instead of hanging.

=head1 ENVIRONMENT

=over

=item TEST_NGINX_BINARY

nginx binary to test; default F<build/static/nginx> in the repository.

=item TEST_NGINX_MODULE

Path of a dynamic module; adds C<load_module> to C<%%TEST_GLOBALS%%>.

=item TEST_NGINX_GLOBALS, TEST_NGINX_GLOBALS_HTTP

Extra directives appended verbatim to C<%%TEST_GLOBALS%%> and
C<%%TEST_GLOBALS_HTTP%%>.

=item TEST_NGINX_LEAVE

Keep the temporary prefix after the test (its path is printed).

=back

=head1 CONSTRUCTOR

=head2 new(%opts)

    my $t = TwTest->new(netns => 1, workers => 2, log_level => 'info');

Creates the prefix (a L<File::Temp> directory) and chooses the ports.

With C<< netns => 1 >>, when running as root and L<unshare(1)> works, the
test file is executed again, once, inside a fresh network namespace and
C<lo> is brought up there.  This must happen before any test output, so
C<new> croaks if a plan or a test result was already printed.  Otherwise
the test continues in the host namespace and C<in_netns> is false.

C<workers> (default 2) sets C<worker_processes>; C<log_level> (default
C<info>) the level of the error log.  C<binary> and C<module> override
C<TEST_NGINX_BINARY> and C<TEST_NGINX_MODULE> for this test alone
(C<< module => undef >> loads none).

=head1 CONFIGURATION

=head2 write_conf($template)

Expands the placeholders and writes F<PREFIX/nginx.conf>.  Returns the
expanded text.  Unknown C<%%NAME%%> placeholders are an error.

=over

=item C<%%PORT%%>, C<%%PORT_1%%> .. C<%%PORT_9%%>, C<%%PORT_STATUS%%>

Distinct free TCP ports on 127.0.0.1, fixed for the life of the object
(8080 and up inside a private namespace).

=item C<%%PREFIX%%>

The prefix directory, without a trailing slash.

=item C<%%TEST_GLOBALS%%>

C<daemon on; master_process on; worker_processes N; pid ...; error_log
PREFIX/error.log LEVEL;>, C<user root;> when running as root, then
C<load_module> and C<TEST_NGINX_GLOBALS> when set.

=item C<%%TEST_GLOBALS_HTTP%%>

C<access_log> and the five C<*_temp_path> directives inside the prefix,
then C<TEST_NGINX_GLOBALS_HTTP>.

=back

Both global blocks expand on a single line, so a line number in the
template is the same line number in F<nginx.conf> (useful with
C<conf_error_ok>).

=head2 write_file($name, $content)

Writes another file (e.g. an included configuration) under the prefix.

=head2 expand($template), test_globals(), test_globals_http()

The expansion used by C<write_conf> and its two global blocks.

=head2 port($name), prefix(), binary(), conf_file(), in_netns()

C<port> takes C<'PORT'> (the default), C<'PORT_1'> .. C<'PORT_9'> or
C<'PORT_STATUS'> (the C<PORT_> part may be left out).

=head2 need_netns()

C<plan skip_all> unless the test runs in a private network namespace.

=head1 PROCESS CONTROL

nginx is always started with C<-p PREFIX/ -c PREFIX/nginx.conf> and, when
the binary supports it, C<-e PREFIX/error.log>.

=head2 run()

Starts nginx and waits (up to 10 s) until the master is alive, the
expected number of workers runs and every C<listen> port of the
configuration has a listening socket.  Readiness is asked of the kernel
rather than by connecting, so no connection is made behind the test's
back.  BAIL_OUT when the binary is missing; dies with the nginx output and
the tail of the error log when the start fails.

=head2 stop(fast => 0)

QUIT (or TERM with C<< fast => 1 >>) to the master, then TERM and KILL if
it does not exit, each step bounded; leftover workers are killed.  A
zombie master counts as exited.  Returns true when the master is gone.

=head2 reload(timeout => 10)

HUP to the master; waits until it has the expected number of new workers
(pids not present before) and every listen port is open.  Returns false
on timeout or as soon as an C<[emerg]> is logged after the signal.

=head2 nginx_t()

Runs C<nginx -t> on the current configuration and returns
C<(exit code, output)>.  Its error log is F<PREFIX/nginx-t.log>, so the
messages of a deliberately broken configuration do not reach
F<error.log>.

=head2 conf_error_ok($conf, qr/message/, $line, $name)

Three tests: nginx -t fails on C<$conf>, its output matches the pattern,
and it names C<PREFIX/nginx.conf:$line>.  The previous configuration is
written back afterwards.

=head2 pid_alive($pid)

True when the process exists and is not a zombie.

=head2 master_pid(), worker_pids(all => 0)

The master pid from the pid file; the worker pids (children of the master
whose command line says C<worker process> and not C<shutting down>), or
with C<< all => 1 >> every live child of the master.

=head1 SOCKETS AND HTTP

All helpers take C<< timeout => SECONDS >> (default 5).  On failure the
reason is available from C<< $t->last_error >>.

=head2 connect(port => PORT, host => '127.0.0.1'), connect6(...)

A connected blocking socket (IPv4, or IPv6 to C<::1>), or undef.

=head2 send_raw($s, $bytes)

Writes all bytes; true on success.

=head2 read_response($s, head => 0)

Reads exactly one HTTP/1.x response; body by Content-Length, chunked
encoding or EOF; none for C<< head => 1 >>, 1xx, 204 and 304.  Bytes after
the response stay buffered on the socket for the next call.  Returns

    { status => 200, reason => 'OK', version => '1.1',
      headers => { lc name => value },  # repeated headers joined by ", "
      header_list => [ [name, value], ... ],
      body => '...', raw => '...' }

or undef on timeout or EOF before a complete response.

=head2 http($request, port => PORT, wait_close => 0)

Sends a raw request on a new connection, reads one response, optionally
waits for the server to close, closes the socket.  The response hash also
has C<client_port>.

=head2 http_get($path, port => PORT, headers => [...], close => 1)

C<GET $path HTTP/1.1> with C<Host: localhost>, the given header lines
(C<"Name: value"> strings) and C<Connection: close> unless C<< close => 0
>>.  With C<< close => 1 >> it waits for the server to close before closing
its socket (the server closes first); with C<< close => 0 >> the client
closes first right after the response.  C<< method => 'HEAD' >> is
supported.

=head2 half_close($s), reset($s), close($s)

C<shutdown(SHUT_WR)>; close with C<SO_LINGER> 0 (sends RST); plain close.

=head2 request_half_closed($request)

Connects, sends C<$request> and half-closes in the same segment
(C<TCP_CORK>), reads the response, waits for the server to close, then
closes.  Dies when no response comes.

=head2 wait_close($s)

Waits for the server to end the connection, discarding data.  Returns
C<'eof'>, C<'reset'>, C<'timeout'> (or C<'error'>).

=head2 local_port($s)

The client-side port of a socket.

=head1 KERNEL VIEW

=head2 who_closed($client_port, port => PORT, timeout => 1)

C<'server'> when a TIME-WAIT socket with local port PORT and peer port
C<$client_port> exists, C<'client'> for the reverse, C<'none'> if neither
appears within the timeout.

=head2 tw_server(port => PORT, peers => [...], since => $mark), tw_client(...)

Number of TIME-WAIT sockets whose local (server) or peer (client) port is
PORT; with C<peers>, only those whose other port is one of them; with
C<since>, only those not in C<$mark>.

=head2 tw_mark()

The TIME-WAIT sockets there are now, for C<since>.  Counting against an
earlier count of the whole port goes wrong when TIME-WAITs of earlier
cases end in between (60 s after they began); counting only the sockets
the mark did not see does not.  A new TIME-WAIT with the 4-tuple of a
marked one is not counted either, so a server-side count since a mark
can come out short, as a count against the whole port's can.

=head2 tw_all()

Number of TIME-WAIT sockets in the namespace, on either side.

=head2 wait_tw_server($n, port => PORT, timeout => 8), wait_tw_client(...)

Polls until the count reaches C<$n> or the timeout; returns the last count.

=head1 MODULE STATUS

=head2 status(port => ..., path => '/tw_status')

Fetches C<path?format=json> and returns the decoded hash; dies unless the
response is 200 with valid JSON.  The default port is C<PORT_STATUS> when
the configuration used C<%%PORT_STATUS%%>, else C<PORT>.

=head2 status_text(...)

The same, without C<format>, returning the plain text body.

=head2 counts(...)

The status as one flat hash: C<"reason/closer"> for every cell of the
reason x closer table, plus C<accepted>, C<open>, C<closed>,
C<excluded>, C<requests> and C<generation>.

=head2 settled()

The counts, once nginx has accepted every connection waiting on the
test's ports (their listening sockets' accept queues, from C<ss -ltn>, are
empty) and no tracked connection is open (at most 10 seconds, or
C<timeout>).  Not settled by then is a failed test: a close that was never
counted leaves its connection open, where the books still add up.

=head2 moved_ok($before, $after, { 'reason/closer' => n, ... }, $name)

One test: every cell moved by exactly what is listed, and no other cell
moved.

=head2 conservation_ok($counts, $name)

One test: C<accepted> equals the sum of the table plus C<open>,
C<closed> equals the sum of the table, and the C<other> row is zero.
C<done()> runs it once more on the final figures of every test file
whose configuration serves C<tw_status>, once they have C<settled>
(a close never counted fails there).

=head2 case_ok(name => ..., n => N, run => sub { ... }, expect => {...}, tw_server => N, tw_client => N, port => PORT, accepted => N)

Runs the scenario C<n> times, waits until no tracked connection is
open, and checks: the counters moved exactly as C<expect> says and no
other moved; C<accepted> moved by C<accepted> (default C<n>); the kernel
has exactly C<tw_server> more TIME-WAIT sockets on the server's port and
C<tw_client> more on the client side (with both given, once their
total is there); the books balance.  Returns the counts after.  When a kernel count
disagrees, the kernel's TCP counters that moved and the scenario's
sockets (C<ss>) are printed as diagnostics.

=head2 request($raw, %opts)

One connection: sends the bytes, reads one response (unless
C<< no_response => 1 >>), waits for the server to close and closes.
With C<< keep => 1 >> it returns the open socket instead.

=head2 backend(port => PORT, handler => sub { my ($sock, $header) = @_ }, max => 50, seconds => 60)

A scripted backend in a child process: accepts at most C<max>
connections for at most C<seconds>, reads each request header and hands
the socket to the handler, then closes it.  C<done()> stops it.

=head2 promtool_ok($metrics, $name)

One test: C<promtool check metrics> accepts the text; skipped when
C<promtool> is not installed.

=head2 kernel_counter($name)

One of the kernel's TCP counters for this network namespace, by its
C<nstat> name (C<TcpExtTW>, C<TcpExtTCPAbortOnData>, C<TcpOutRsts>...),
read from F</proc/net/netstat> and F</proc/net/snmp>.  C<TcpExtTW>
counts TIME-WAIT sockets as they are created, so it stays exact where
C<ss> loses sockets that a new connection reused or that an RST ended.

=head2 tcp_counters(), kernel_diag({ port => PORT }, \%before)

C<tcp_counters> returns the kernel's TCP counters that tell where a
TIME-WAIT went (C<TcpExtTW>, C<TcpOutRsts>, C<TcpExtTCPTimeWaitOverflow>...)
as a hash; C<kernel_diag> prints those that moved since C<%before> and,
given a PORT, the sockets of PORT as C<ss> shows them.  C<case_ok> calls
it when a kernel count disagrees.

=head1 LOGS

=head2 read_file($name), error_log()

Contents of a file in the prefix (undef if missing), and of F<error.log>.

=head2 wait_log(qr/.../, timeout => 3)

Polls the error log; returns the first matching line or undef.

=head2 allow_log(qr/.../, ...)

Lines matching any of these are ignored by the log checks.

=head2 check_logs(), done()

C<check_logs> adds tests on F<error.log> (and the output captured at start
up): no C<[alert]>, C<[emerg]> or C<[crit]>, no sanitizer report, no
C<exited on signal>.  C<done> stops nginx, runs C<check_logs> and calls
C<done_testing>.

=head1 FUNCTIONS

=head2 wait_until(sub { ... }, timeout => 3, interval => 0.05)

Exported.  Calls the sub until it returns true; returns that value, or
undef after the timeout.  Also callable as a method.

=head2 TwTest::unit_tests($name)

Runs C<build/unit/$name>, a C program of F<t/unit/> built by C<make
unit> that prints TAP, as the calling file's tests: one per line it
prints, then one that all planned tests ran and one for its exit code.
Skips the file when the program is not built.

=head1 CLEANUP

nginx is stopped when the object is destroyed or at exit, if the test
did not do it; the prefix is removed unless C<TEST_NGINX_LEAVE> is set.
A private network namespace disappears with its last process.

=cut
