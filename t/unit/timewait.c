
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Unit tests of the kernel's TIME_WAIT counts (ngx_http_tw_timewait.c):
 * the sock_diag dump, and /proc/net/tcp, the way without it, count the
 * same sockets.  Real TIME_WAIT sockets are made on a port of 127.0.0.1
 * (and ::1 where there is IPv6) that the test bound itself, closing the
 * accepted side first; a /proc/net/tcp of its own, longer than the read
 * buffer, checks the parser line by line.  The estimate from the ring
 * of samples, against a count of its own.
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


/*
 * A close by nginx as the close path counts it: a sample before the first
 * of a second, then the counts, in the worker's slot and the block.
 */

static void
close_by_nginx(ngx_http_tw_shctx_t *sh, ngx_http_tw_block_t *b,
    ngx_uint_t slot, ngx_uint_t reason, ngx_atomic_uint_t n)
{
    if (n == 0) {
        return;
    }

    if (ngx_http_tw_ring_now() != ngx_http_tw_second) {
        ngx_http_tw_timewait_sample(sh);
    }

    sh->slots[slot].counters.closes[reason][NGX_HTTP_TW_SERVER] += n;

    if (b != NULL) {
        b->closes[reason][NGX_HTTP_TW_SERVER] += n;
    }
}


/*
 * The estimate, against a count of its own: closes at random moments of
 * 400 seconds, some seconds without any, a minute without any, and the
 * estimate read at random moments must be the closes of the last 60
 * seconds, as a whole, by reason and by server.  Then a slot being
 * written, a clock a little behind, a new server's block, and a clock
 * that wrapped.
 */

static void
sample_tests(void)
{
    ngx_uint_t             sec, k, bad, first, reads, reason;
    ngx_msec_t             start;
    ngx_atomic_uint_t      want, wantb, want3, got, n, before;
    ngx_atomic_uint_t      reasons[NGX_HTTP_TW_NREASONS];
    ngx_atomic_uint_t      added[400], addedb[400], added3[400];
    ngx_http_tw_block_t   *b, *nb;
    ngx_http_tw_shctx_t   *sh;
    ngx_http_tw_sample_t  *t;

    sh = calloc(1, sizeof(ngx_http_tw_shctx_t));
    b = calloc(1, sizeof(ngx_http_tw_block_t));
    nb = calloc(1, sizeof(ngx_http_tw_block_t));

    if (sh == NULL || b == NULL || nb == NULL) {
        ok(0, "sample: memory");
        return;
    }

    start = 5000000;

    /*
     * first, before any sample with all 32 slots: the samples add up
     * the slots that may have counted, two workers', then a third
     * worker's, counted in before its first close
     */

    ngx_http_tw_zone_slots(sh, 2);
    ngx_http_tw_second = 0;

    ngx_current_msec = start;
    close_by_nginx(sh, NULL, 0, 1, 3);
    close_by_nginx(sh, NULL, 1, 1, 4);

    ngx_current_msec = start + 1000;
    ngx_http_tw_zone_slots(sh, 3);
    close_by_nginx(sh, NULL, 2, 1, 5);
    close_by_nginx(sh, NULL, 1, 1, 6);
    t = &sh->ring[ngx_http_tw_ring_now() % NGX_HTTP_TW_RING];
    want = t->fin[1];
    n = ngx_http_tw_timewait_read(sh, reasons);

    ngx_current_msec = start + 61 * 1000;
    close_by_nginx(sh, NULL, 2, 1, 1);
    t = &sh->ring[ngx_http_tw_ring_now() % NGX_HTTP_TW_RING];
    wantb = t->fin[1];
    got = ngx_http_tw_timewait_read(sh, reasons);

    ok(want == 7 && wantb == 18 && n == 18 && got == 1,
       "sample: the slots that may have counted, a worker added (samples"
       " %uA, %uA; estimates %uA, %uA)", want, wantb, n, got);

    ngx_memzero(sh, sizeof(ngx_http_tw_shctx_t));
    ngx_http_tw_zone_slots(sh, 6);
    ngx_http_tw_zone_slots(sh, 2);
    n = sh->nslots;
    ngx_http_tw_zone_slots(sh, 9);
    ok(n == 6 && sh->nslots == 9, "sample: the slots are never fewer");

    ngx_memzero(sh, sizeof(ngx_http_tw_shctx_t));
    sh->blocks = b;
    ngx_http_tw_zone_slots(sh, NGX_HTTP_TW_SLOTS);
    ngx_http_tw_second = 0;

    /* none yet: none in the window, whatever the other closers did */

    ngx_current_msec = start;
    sh->slots[7].counters.closes[3][NGX_HTTP_TW_CLIENT] = 100;
    sh->slots[7].counters.closes[4][NGX_HTTP_TW_SERVER_RESET] = 100;

    ok(ngx_http_tw_timewait_read(sh, reasons) == 0
       && ngx_http_tw_timewait_server(b) == 0, "sample: none yet, 0");

    srandom(42);
    bad = 0;
    first = 0;
    reads = 0;

    for (sec = 0; sec < 400; sec++) {
        added[sec] = 0;
        addedb[sec] = 0;
        added3[sec] = 0;

        /* seconds 200 to 269 without a close */

        for (k = 0; k < 4 && (sec < 200 || sec >= 270); k++) {

            ngx_current_msec = start + sec * 1000 + random() % 1000;

            n = random() % 3;

            if (n == 0 || random() % 4 == 0) {
                continue;
            }

            reason = random() % NGX_HTTP_TW_NREASONS;

            /* half of them to a server without a block */

            if (random() % 2) {
                close_by_nginx(sh, b, random() % NGX_HTTP_TW_SLOTS, reason,
                               n);
                addedb[sec] += n;

            } else {
                close_by_nginx(sh, NULL, random() % NGX_HTTP_TW_SLOTS,
                               reason, n);
            }

            added[sec] += n;

            if (reason == 3) {
                added3[sec] += n;
            }
        }

        /* read at a moment of the second after its closes */

        ngx_current_msec = start + sec * 1000 + 999;

        want = 0;
        wantb = 0;
        want3 = 0;

        for (k = 0; k <= sec; k++) {
            if (k + NGX_HTTP_TW_WINDOW > sec) {
                want += added[k];
                wantb += addedb[k];
                want3 += added3[k];
            }
        }

        got = ngx_http_tw_timewait_read(sh, reasons);
        reads++;

        if (got != want || reasons[3] != want3
            || ngx_http_tw_timewait_server(b) != wantb)
        {
            if (bad++ == 0) {
                first = sec;
            }
        }
    }

    ok(bad == 0, "sample: %ui reads in 400 seconds, the estimate is the"
       " last 60 seconds' closes (%ui wrong, the first at %ui)",
       reads, bad, first);

    /* a second without a sample for this worker takes one; then not */

    ngx_current_msec = start + 400 * 1000;
    close_by_nginx(sh, b, 0, 0, 1);
    t = &sh->ring[ngx_http_tw_ring_now() % NGX_HTTP_TW_RING];
    before = t->fin[0];
    ok(t->stamp == ngx_http_tw_ring_now() && sh->sampled == t->stamp,
       "sample: taken before the first close of a second");

    ngx_http_tw_timewait_sample(sh);
    ok(t->fin[0] == before, "sample: once a second");

    /*
     * a second another worker took and has not written yet (it stalled,
     * or died): waited for, briefly, and left to it
     */

    ngx_current_msec = start + 401 * 1000 + 300;
    ngx_http_tw_second = 0;
    t = &sh->ring[ngx_http_tw_ring_now() % NGX_HTTP_TW_RING];
    sh->sampled = ngx_http_tw_ring_now();
    t->stamp = 0;
    t->fin[0] = 77;
    ngx_http_tw_timewait_sample(sh);
    ok(t->stamp == 0 && t->fin[0] == 77
       && ngx_http_tw_second == ngx_http_tw_ring_now(),
       "sample: a second taken by another worker is left to it");
    sh->sampled = start / 1000 + 401;

    /* a worker whose cached clock is behind takes none */

    ngx_current_msec = start + 399 * 1000 + 500;
    t = &sh->ring[ngx_http_tw_ring_now() % NGX_HTTP_TW_RING];
    before = t->fin[0];
    ngx_http_tw_timewait_sample(sh);
    ok(t->fin[0] == before
       && sh->sampled == (ngx_atomic_uint_t) (start / 1000 + 401),
       "sample: none from a clock a second behind");

    /*
     * a slot being written (or left so by a worker killed meanwhile) is
     * no base: the next one is, leaving out its second's closes
     */

    ngx_current_msec = start + 401 * 1000;
    close_by_nginx(sh, b, 1, 2, 5);
    ngx_current_msec = start + 402 * 1000;
    close_by_nginx(sh, b, 1, 2, 7);

    /* seconds 400 to 459: 1, 5 and 7 closes */

    ngx_current_msec = start + 400 * 1000 + 59 * 1000;
    n = ngx_http_tw_timewait_read(sh, reasons);
    sh->ring[(ngx_http_tw_ring_now() - 59) % NGX_HTTP_TW_RING].stamp = 0;
    got = ngx_http_tw_timewait_read(sh, reasons);
    ok(n == 13 && got == 12,
       "sample: a slot being written is skipped (%uA, then %uA)", n, got);

    /* a minute later: none in the window */

    ngx_current_msec = start + 470 * 1000;
    ok(ngx_http_tw_timewait_read(sh, reasons) == 0
       && ngx_http_tw_timewait_server(b) == 0,
       "sample: none in the last minute, 0");

    /*
     * a new server's block after this second's sample: its own sample
     * of 0 lets its closes count
     */

    ngx_current_msec = start + 480 * 1000;
    close_by_nginx(sh, b, 0, 0, 1);
    ngx_http_tw_timewait_block(nb);
    nb->next = sh->blocks;
    sh->blocks = nb;
    close_by_nginx(sh, nb, 0, 0, 4);
    ok(ngx_http_tw_timewait_server(nb) == 4
       && ngx_http_tw_timewait_read(sh, reasons) == 5,
       "sample: a new server's first closes count");

    /* 32-bit milliseconds wrapped: the seconds start again from 1 */

    ok(ngx_http_tw_ring_age(NGX_HTTP_TW_RING_PERIOD - 10, 54) == 64,
       "sample: a second from before the clock wrapped is old");
    ok(ngx_http_tw_ring_age(57, 54) == 0
       && ngx_http_tw_ring_age(0, 54) == NGX_HTTP_TW_RING_NONE,
       "sample: a second a little ahead is now, none is none");
    ok(ngx_http_tw_ring_age(54 + 65, 54)
       == NGX_HTTP_TW_RING_PERIOD - 65,
       "sample: more than 64 seconds ahead, from before a wrap");

    free(nb);
    free(b);
    free(sh);
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
    sample_tests();

    ngx_pid = getpid();
    proc_tests();

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
