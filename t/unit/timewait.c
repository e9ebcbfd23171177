
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Unit tests of the kernel's TIME_WAIT counts (ngx_http_tw_timewait.c):
 * the sock_diag dump, and /proc/net/tcp, the way without it, count the
 * same sockets.  Real TIME_WAIT sockets are made on a port of 127.0.0.1
 * (and ::1 where there is IPv6) that the test bound itself, closing the
 * accepted side first; a /proc/net/tcp of its own, longer than the read
 * buffer, checks the parser line by line.  The claim of a ring slot by
 * the first close of a second, in every state the slot can be found in.
 * The zone's process entries: a process gone, and their reaping.
 * Prints TAP; t/41-kernel.t runs it.  Built with the objects of the test
 * build of nginx ("make unit").
 */


#include "ngx_http_tw_timewait.c"
#include "tap.h"


static ngx_log_t  ngx_http_tw_unit_log;


/* a listening socket on the loopback address of a family, any port */

static ngx_socket_t
listener(int family, in_port_t *port)
{
    socklen_t            len;
    ngx_socket_t         s;
    struct sockaddr_in   sin;
    struct sockaddr_in6  sin6;

    s = socket(family, SOCK_STREAM, 0);

    if (s == (ngx_socket_t) -1) {
        return s;
    }

    if (family == AF_INET) {
        ngx_memzero(&sin, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(sin);

        if (bind(s, (struct sockaddr *) &sin, len) == -1
            || getsockname(s, (struct sockaddr *) &sin, &len) == -1)
        {
            goto failed;
        }

        *port = ntohs(sin.sin_port);

    } else {
        ngx_memzero(&sin6, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_addr = in6addr_loopback;
        len = sizeof(sin6);

        if (bind(s, (struct sockaddr *) &sin6, len) == -1
            || getsockname(s, (struct sockaddr *) &sin6, &len) == -1)
        {
            goto failed;
        }

        *port = ntohs(sin6.sin6_port);
    }

    if (listen(s, 128) == -1) {
        goto failed;
    }

    return s;

failed:

    close(s);
    return (ngx_socket_t) -1;
}


/*
 * n connections to the listener, each closed by the accepting side
 * first, then by the client once it has read the FIN: n TIME_WAIT
 * sockets on the listener's port
 */

static ngx_int_t
time_wait(int family, ngx_socket_t ls, ngx_uint_t n)
{
    char                  ch;
    socklen_t             len;
    ngx_uint_t            i;
    ngx_socket_t          c, a;
    struct sockaddr_in6   sa;

    len = sizeof(sa);

    if (getsockname(ls, (struct sockaddr *) &sa, &len) == -1) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        c = socket(family, SOCK_STREAM, 0);

        if (c == (ngx_socket_t) -1
            || connect(c, (struct sockaddr *) &sa, len) == -1)
        {
            return NGX_ERROR;
        }

        a = accept(ls, NULL, NULL);

        if (a == (ngx_socket_t) -1) {
            return NGX_ERROR;
        }

        close(a);

        if (read(c, &ch, 1) != 0) {
            return NGX_ERROR;
        }

        close(c);
    }

    return NGX_OK;
}


/* the count, once the last FINs are in: the kernel may be a little late */

static ngx_int_t
settled(ngx_int_t (*count)(int family, in_port_t *ports, ngx_uint_t n,
    ngx_log_t *log), int family, in_port_t port, ngx_int_t want)
{
    ngx_int_t   got;
    ngx_uint_t  i;

    for (i = 0; i < 100; i++) {
        got = count(family, &port, 1, &ngx_http_tw_unit_log);

        if (got == want) {
            break;
        }

        ngx_msleep(10);
    }

    return got;
}


/* the ports as the module looks for them: a bit each */

static u_char *
port_set(in_port_t *ports, ngx_uint_t n)
{
    ngx_uint_t     i;
    static u_char  set[65536 / 8];

    ngx_memzero(set, sizeof(set));

    for (i = 0; i < n; i++) {
        set[ports[i] >> 3] |= (u_char) (1 << (ports[i] & 7));
    }

    return set;
}


static ngx_int_t
proc_count(int family, in_port_t *ports, ngx_uint_t n, ngx_log_t *log)
{
    return ngx_http_tw_kernel_file(family == AF_INET ? "/proc/net/tcp"
                                                     : "/proc/net/tcp6",
                                   port_set(ports, n), log);
}


#if (NGX_HTTP_TW_SOCK_DIAG)

static ngx_int_t
diag_count(int family, in_port_t *ports, ngx_uint_t n, ngx_log_t *log)
{
    return ngx_http_tw_kernel_diag(family, port_set(ports, n), log);
}

#endif


static void
family_tests(int family, const char *name, ngx_uint_t n)
{
    in_port_t     port, idle, ports[2];
    ngx_socket_t  ls, quiet;

    ls = listener(family, &port);
    quiet = listener(family, &idle);

    if (ls == (ngx_socket_t) -1 || quiet == (ngx_socket_t) -1) {
        printf("# %s: no loopback address, skipped\n", name);
        return;
    }

    ok(time_wait(family, ls, n) == NGX_OK,
       "%s: %ui connections closed by the accepting side", name, n);

    ok(settled(proc_count, family, port, n) == (ngx_int_t) n,
       "%s: /proc: %ui TIME_WAIT on the port", name, n);

    ports[0] = idle;
    ports[1] = port;

    ok(ngx_http_tw_kernel_file(family == AF_INET ? "/proc/net/tcp"
                                                 : "/proc/net/tcp6",
                               port_set(ports, 1), &ngx_http_tw_unit_log)
       == 0,
       "%s: /proc: none on a port without connections", name);

#if (NGX_HTTP_TW_SOCK_DIAG)

    ok(settled(diag_count, family, port, n) == (ngx_int_t) n,
       "%s: sock_diag: %ui TIME_WAIT on the port", name, n);

    ok(ngx_http_tw_kernel_diag(family, port_set(ports, 1),
                               &ngx_http_tw_unit_log) == 0,
       "%s: sock_diag: none on a port without connections", name);

    ok(ngx_http_tw_kernel_diag(family, port_set(ports, 2),
                               &ngx_http_tw_unit_log) == (ngx_int_t) n,
       "%s: sock_diag: either port, %ui", name, n);

#endif

    close(ls);
    close(quiet);
}


/*
 * A /proc/net/tcp of its own, about 60 KB: lines that cross the ends of
 * the 16 KB read buffer, every state, the port in the remote address
 * too.  Every seventh line is a TIME_WAIT socket on port 0x1F90 (8080).
 */

static void
file_tests(void)
{
    u_char      line[256], *last;
    ngx_fd_t    fd;
    in_port_t   ports[2];
    ngx_uint_t  i, want, other;

    static char  name[] = "/tmp/ngx_tw_unit_tcp.XXXXXX";

    fd = mkstemp(name);

    if (fd == NGX_INVALID_FILE) {
        ok(0, "a file of our own: %s", strerror(errno));
        return;
    }

    last = ngx_sprintf(line, "  sl  local_address rem_address   st tx_queue"
                       " rx_queue tr tm->when retrnsmt   uid  timeout"
                       " inode\n");
    (void) write(fd, line, last - line);

    want = 0;
    other = 0;

    for (i = 0; i < 400; i++) {
        last = ngx_sprintf(line, "%4ui: 0100007F:%04XD 0100007F:%04XD %02XD"
                           " 00000000:00000000 03:00000A5B 00000000     0"
                           "        0 %ui 3 0000000000000000\n",
                           i, i % 7 ? 0x1F91 : 0x1F90,
                           i % 5 ? 0xC000 + (int) i : 0x1F90,
                           i % 7 ? (int) (i % 11) + 1 : 6,
                           i * i * 7919);
        (void) write(fd, line, last - line);

        if (i % 7 == 0) {
            want++;

        } else if (i % 11 + 1 == NGX_HTTP_TW_TCP_TIME_WAIT) {
            other++;
        }
    }

    close(fd);

    ports[0] = 0x1F90;
    ports[1] = 0x1F91;

    ok(ngx_http_tw_kernel_file(name, port_set(ports, 1), &ngx_http_tw_unit_log)
       == (ngx_int_t) want, "file: %ui TIME_WAIT on 8080", want);

    /* the sockets of 8081 are in every state but TIME_WAIT's (6) */

    ok(ngx_http_tw_kernel_file(name, port_set(&ports[1], 1),
                               &ngx_http_tw_unit_log)
       == (ngx_int_t) other, "file: %ui TIME_WAIT on 8081, of all its"
       " states", other);

    ok(ngx_http_tw_kernel_file(name, port_set(ports, 2), &ngx_http_tw_unit_log)
       == (ngx_int_t) (want + other), "file: both ports");

    ok(ngx_http_tw_kernel_file("/nonexistent/tcp", port_set(ports, 1),
                               &ngx_http_tw_unit_log) == NGX_ERROR,
       "file: none to read");

    unlink(name);
}


static void
ring_tests(void)
{
    ngx_pid_t          pid;
    ngx_atomic_t       stamp, counts[3];
    ngx_atomic_uint_t  now;

    now = 100000;

    stamp = now;
    counts[0] = 5;
    ok(ngx_http_tw_ring_claim(&stamp, counts, 3, now) == 1
       && counts[0] == 5, "ring: the current second, kept");

    stamp = now - 64;
    counts[0] = 5;
    counts[2] = 7;
    ok(ngx_http_tw_ring_claim(&stamp, counts, 3, now) == 1
       && stamp == now && counts[0] == 0 && counts[2] == 0,
       "ring: an older second, cleared and taken");

    /* a writer whose cached time is 320 s behind leaves a later second */

    stamp = now + 64 * 5;
    counts[1] = 9;
    ok(ngx_http_tw_ring_claim(&stamp, counts, 3, now) == 0
       && stamp == now + 64 * 5 && counts[1] == 9,
       "ring: a second 320 s ahead (a stalled writer), left alone");

    /* 32-bit milliseconds wrapped: the seconds start again from 0 */

    stamp = NGX_MAX_UINT32_VALUE / 1000 - 10;
    counts[1] = 9;
    ok(ngx_http_tw_ring_claim(&stamp, counts, 3, 54) == 1
       && stamp == 54 && counts[1] == 0,
       "ring: a second from before the clock wrapped, taken");

    /* busy: a claimer alive is waited for, then given up on */

    stamp = ngx_http_tw_ring_busy(getppid());
    counts[0] = 3;
    ok(ngx_http_tw_ring_claim(&stamp, counts, 3, now) == 0
       && counts[0] == 3, "ring: busy with a live claimer, left alone");

    /* busy: a claimer that died is taken over */

    pid = fork();

    if (pid == 0) {
        _exit(0);
    }

    waitpid(pid, NULL, 0);

    stamp = ngx_http_tw_ring_busy(pid);
    counts[0] = 3;
    ok(pid > 0 && ngx_http_tw_ring_claim(&stamp, counts, 3, now) == 1
       && stamp == now && counts[0] == 0,
       "ring: busy with a claimer that died, taken over");
}


/*
 * The process entries of the zone (ngx_http_tw_zone.c): a process gone,
 * or dead and not reaped (a zombie); the reaping of their entries, and
 * of one whose reaper died halfway.
 */

static void
proc_tests(void)
{
    int                   i;
    ngx_pid_t             pid;
    ngx_http_tw_shctx_t  *sh;

    ok(!ngx_http_tw_pid_gone(getpid()), "pid: this process is alive");

    pid = fork();

    if (pid == 0) {
        _exit(0);
    }

    /* not reaped: a zombie, which kill() still finds */

    for (i = 0; i < 200 && !ngx_http_tw_pid_gone(pid); i++) {
        usleep(10000);
    }

    ok(pid > 0 && kill(pid, 0) == 0 && ngx_http_tw_pid_gone(pid),
       "pid: a child that died, not reaped, is gone");

    waitpid(pid, NULL, 0);

    ok(ngx_http_tw_pid_gone(pid), "pid: reaped, gone");

    sh = calloc(1, sizeof(ngx_http_tw_shctx_t));
    if (sh == NULL) {
        return;
    }

    sh->procs[0].pid = pid;
    sh->procs[0].open = 4;
    sh->procs[1].pid = NGX_HTTP_TW_PROC_REAPING | pid;
    sh->procs[1].open = 3;
    sh->procs[2].pid = NGX_HTTP_TW_PROC_REAPING | getppid();
    sh->procs[2].open = 2;
    sh->procs[3].pid = getppid();
    sh->procs[3].open = 5;

    ngx_http_tw_zone_reap(sh);

    ok(sh->procs[0].pid == 0 && sh->procs[0].open == 0,
       "reap: a process gone, its entry freed");
    ok(sh->procs[1].pid == 0 && sh->procs[1].open == 0,
       "reap: a reaper that died halfway, taken over");
    ok(sh->procs[2].pid == (NGX_HTTP_TW_PROC_REAPING | getppid())
       && sh->procs[2].open == 2, "reap: a reaper alive, left alone");
    ok(sh->procs[3].pid == (ngx_atomic_uint_t) getppid()
       && sh->procs[3].open == 5, "reap: a process alive, left alone");
    ok(sh->lost == 7, "reap: what both held is lost");

    free(sh);
}


int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);

    ngx_pagesize = 4096;
    ngx_time_init();

    ngx_http_tw_unit_log.log_level = NGX_LOG_EMERG;

    family_tests(AF_INET, "IPv4", 50);
    family_tests(AF_INET6, "IPv6", 20);
    file_tests();
    ring_tests();

    ngx_pid = getpid();
    proc_tests();

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
