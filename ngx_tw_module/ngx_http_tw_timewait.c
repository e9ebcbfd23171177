
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * TIME_WAIT now.  The module's estimate: the closes where nginx sent the
 * first FIN in the last 60 seconds, which is how long Linux keeps a
 * TIME_WAIT socket.  The close counters count them; before the first of
 * them in a second, the worker that comes to it first stores their
 * totals in a ring, one slot per second.  A sample is then the totals at
 * the start of its second, and of every second since the one before it,
 * as no close by nginx came in between: the estimate is the totals now
 * less the earliest sample of the last 60 seconds, or 0 without one.
 * Beside it, the kernel's own figures: TIME_WAIT sockets on nginx's HTTP
 * listening ports, and on the whole host, read at most once a second.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"

#if (NGX_HTTP_TW_SOCK_DIAG)
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#endif


/* a set of TCP ports, a bit each: every port an nginx can listen on */
#define ngx_http_tw_port_in(set, port)                                        \
    ((set)[(port) >> 3] & (1 << ((port) & 7)))

/*
 * A 32-bit ngx_msec_t wraps every 49.7 days, and the seconds with it: a
 * stamp up to a ring's length ahead is a worker's cached clock ahead of
 * this one's, one further ahead is from before the wrap
 */
#define NGX_HTTP_TW_RING_AHEAD    NGX_HTTP_TW_RING
#define NGX_HTTP_TW_RING_PERIOD   (NGX_MAX_UINT32_VALUE / 1000 + 1)

/* not a sample to use */
#define NGX_HTTP_TW_RING_NONE     ((ngx_atomic_uint_t) -1)

/*
 * how long a close waits for another worker's sample: CPU pauses, then
 * yields of the CPU, for a sampler that lost it in the middle
 */
#define NGX_HTTP_TW_RING_SPIN     4096
#define NGX_HTTP_TW_RING_YIELD    64


static ngx_atomic_uint_t ngx_http_tw_ring_age(ngx_atomic_uint_t stamp,
    ngx_atomic_uint_t now);
static ngx_int_t ngx_http_tw_ring_base(ngx_atomic_t *ring, size_t size,
    ngx_uint_t n, ngx_atomic_uint_t *base);
static void ngx_http_tw_ring_wait(ngx_http_tw_shctx_t *sh,
    ngx_http_tw_sample_t *t, ngx_atomic_uint_t now);
#if (NGX_LINUX)
static ngx_int_t ngx_http_tw_kernel_listen(u_char *ports, ngx_uint_t n,
    ngx_log_t *log);
#if (NGX_HTTP_TW_SOCK_DIAG)
static ngx_int_t ngx_http_tw_kernel_diag(int family, u_char *ports,
    ngx_log_t *log);
#endif
static ngx_int_t ngx_http_tw_kernel_file(char *name, u_char *ports,
    ngx_log_t *log);
static ngx_int_t ngx_http_tw_kernel_host(ngx_log_t *log);
#endif


ngx_atomic_uint_t  ngx_http_tw_second;


/*
 * Before this worker's first close by nginx of a second: stores the
 * totals of those closes, for the estimate and for each server's block,
 * in the slot of the second, unless another worker has.  A slot's stamp
 * is 0 while it is written, so that readers skip it, and the estimate's
 * is written last.  A worker that finds the second taken waits, for a
 * bounded time, for its sample to be written, so that the close it is
 * about to count is not in it; a worker whose cached clock is behind the
 * others' takes no sample.  A worker killed while it writes leaves its
 * second without a sample; the estimate then uses the next one, which
 * leaves out the closes of that second.  One that stalls for a second or
 * more in the middle leaves it so too, rather than store totals of a
 * later moment under its second.
 */

void
ngx_http_tw_timewait_sample(ngx_http_tw_shctx_t *sh)
{
    ngx_uint_t             i, r, n;
    ngx_atomic_uint_t      now, old, fin;
    ngx_http_tw_block_t   *b;
    ngx_http_tw_sample_t  *t;

    now = ngx_http_tw_ring_now();
    ngx_http_tw_second = now;

    t = &sh->ring[now % NGX_HTTP_TW_RING];
    old = sh->sampled;

    if (old > now && old - now <= NGX_HTTP_TW_RING_AHEAD) {
        /* a later second sampled: this worker's clock is behind */
        return;
    }

    if (old == now || !ngx_atomic_cmp_set(&sh->sampled, old, now)) {
        ngx_http_tw_ring_wait(sh, t, now);
        return;
    }

    t->stamp = 0;
    ngx_memory_barrier();

    /*
     * the slots that may have counted (2 with 2 workers), not all 32: a
     * process adds its slot before it counts, so a slot added after this
     * read has no close by nginx from before this second, whose first
     * closes wait for this sample (all but those of a worker whose
     * clock is behind, or whose wait ran out: counted as a sample
     * goes on, they may or may not be in it)
     */

    n = ngx_min(sh->nslots, NGX_HTTP_TW_SLOTS);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        fin = 0;

        for (i = 0; i < n; i++) {
            fin += sh->slots[i].counters.closes[r][NGX_HTTP_TW_SERVER];
        }

        t->fin[r] = fin;
    }

    /* a block is linked in whole, at the head, and never taken out */

    for (b = sh->blocks; b; b = b->next) {
        fin = 0;

        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            fin += b->closes[r][NGX_HTTP_TW_SERVER];
        }

        b->ring[now % NGX_HTTP_TW_RING].stamp = 0;
        ngx_memory_barrier();
        b->ring[now % NGX_HTTP_TW_RING].fin = fin;
        ngx_memory_barrier();

        if (sh->sampled == now) {
            b->ring[now % NGX_HTTP_TW_RING].stamp = now;
        }
    }

    ngx_memory_barrier();

    if (sh->sampled == now) {
        t->stamp = now;
    }
}


/*
 * Another worker's sample of this second: waited for while that worker
 * writes it, and this second is still the last sampled.  The pauses are
 * enough for a sampler that runs on; a sampler that lost its CPU in the
 * middle may need this one's.
 */

static void
ngx_http_tw_ring_wait(ngx_http_tw_shctx_t *sh, ngx_http_tw_sample_t *t,
    ngx_atomic_uint_t now)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_TW_RING_SPIN + NGX_HTTP_TW_RING_YIELD; i++) {

        if (t->stamp == now || sh->sampled != now) {
            return;
        }

        if (i < NGX_HTTP_TW_RING_SPIN) {
            ngx_cpu_pause();

        } else {
            ngx_sched_yield();
        }
    }
}


/*
 * A new server block (in the master, at start or reload): a sample of
 * its zero totals, as the estimate's samples of this second may be taken
 * already, and without one its first closes would not count.
 */

void
ngx_http_tw_timewait_block(ngx_http_tw_block_t *b)
{
    ngx_atomic_uint_t  now;

    now = ngx_http_tw_ring_now();

    b->ring[now % NGX_HTTP_TW_RING].fin = 0;
    ngx_memory_barrier();
    b->ring[now % NGX_HTTP_TW_RING].stamp = now;
}


/*
 * How many seconds before "now" a sample was taken: 0 for one a little
 * ahead (taken by a worker whose cached clock is ahead of the reader's);
 * NGX_HTTP_TW_RING_NONE for none, or one being written.
 */

static ngx_atomic_uint_t
ngx_http_tw_ring_age(ngx_atomic_uint_t stamp, ngx_atomic_uint_t now)
{
    if (stamp == 0) {
        return NGX_HTTP_TW_RING_NONE;
    }

    if (stamp <= now) {
        return now - stamp;
    }

    if (stamp - now <= NGX_HTTP_TW_RING_AHEAD) {
        return 0;
    }

    /* from before a 32-bit clock wrapped */

    return now + NGX_HTTP_TW_RING_PERIOD - stamp;
}


/*
 * The estimate's base in a ring of slots "size" bytes apart, each a stamp
 * and "n" totals: the totals of the earliest sample of the window, copied
 * to "base".  They are read between two looks at the stamp the slot was
 * chosen by, and looked for again if it changed (written over by then).
 * NGX_DECLINED with no sample in the window: no close by nginx came then.
 */

static ngx_int_t
ngx_http_tw_ring_base(ngx_atomic_t *ring, size_t size, ngx_uint_t n,
    ngx_atomic_uint_t *base)
{
    ngx_uint_t          i, k, tries, slot;
    ngx_atomic_t       *t;
    ngx_atomic_uint_t   now, age, oldest, stamp, st;

    now = ngx_http_tw_ring_now();

    for (tries = 0; tries < 3; tries++) {
        slot = NGX_HTTP_TW_RING;
        oldest = 0;
        stamp = 0;

        for (i = 0; i < NGX_HTTP_TW_RING; i++) {
            st = *(volatile ngx_atomic_t *) ((u_char *) ring + i * size);
            age = ngx_http_tw_ring_age(st, now);

            if (age < NGX_HTTP_TW_WINDOW
                && (slot == NGX_HTTP_TW_RING || age > oldest))
            {
                oldest = age;
                slot = i;
                stamp = st;
            }
        }

        if (slot == NGX_HTTP_TW_RING) {
            return NGX_DECLINED;
        }

        t = (ngx_atomic_t *) ((u_char *) ring + slot * size);
        ngx_memory_barrier();

        for (k = 0; k < n; k++) {
            base[k] = t[1 + k];
        }

        ngx_memory_barrier();

        if (t[0] == stamp) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * The estimate: all reasons, and each in "reasons".  The base is read
 * before the totals, which cannot be less (but for a 32-bit counter that
 * wrapped, which the subtraction takes as it comes).
 */

ngx_atomic_uint_t
ngx_http_tw_timewait_read(ngx_http_tw_shctx_t *sh,
    ngx_atomic_uint_t *reasons)
{
    ngx_uint_t         i, r;
    ngx_atomic_uint_t  total, base[NGX_HTTP_TW_NREASONS];

    ngx_memzero(reasons, NGX_HTTP_TW_NREASONS * sizeof(ngx_atomic_uint_t));

    if (ngx_http_tw_ring_base(&sh->ring[0].stamp,
                              sizeof(ngx_http_tw_sample_t),
                              NGX_HTTP_TW_NREASONS, base)
        != NGX_OK)
    {
        return 0;
    }

    total = 0;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (i = 0; i < NGX_HTTP_TW_SLOTS; i++) {
            reasons[r] += sh->slots[i].counters.closes[r][NGX_HTTP_TW_SERVER];
        }

        reasons[r] -= base[r];
        total += reasons[r];
    }

    return total;
}


/* a server's estimate, as the whole one */

ngx_atomic_uint_t
ngx_http_tw_timewait_server(ngx_http_tw_block_t *b)
{
    ngx_uint_t         r;
    ngx_atomic_uint_t  fin, base;

    if (ngx_http_tw_ring_base(&b->ring[0].stamp,
                              sizeof(ngx_http_tw_server_sample_t), 1, &base)
        != NGX_OK)
    {
        return 0;
    }

    fin = 0;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        fin += b->closes[r][NGX_HTTP_TW_SERVER];
    }

    return fin - base;
}


/*
 * Refreshes the kernel's counts in the zone if they are a second old or
 * more; one status request does it, the others use what is there.
 */

void
ngx_http_tw_timewait_kernel(ngx_http_tw_shctx_t *sh, ngx_log_t *log)
{
#if (NGX_LINUX)
    ngx_uint_t         n;
    u_char             ports[65536 / 8];
    ngx_atomic_uint_t  pid;

    if ((ngx_atomic_uint_t) ngx_time() == sh->kernel_time) {
        return;
    }

    /*
     * the lock holds its owner's pid: a worker killed while it read the
     * counts leaves it taken, and the next request takes it over
     */

    pid = sh->kernel_lock;

    if (pid != 0 && !ngx_http_tw_pid_gone((ngx_pid_t) pid)) {
        return;
    }

    if (!ngx_atomic_cmp_set(&sh->kernel_lock, pid, ngx_pid)) {
        return;
    }

    /* another request may have read them just before the lock was ours */

    if ((ngx_atomic_uint_t) ngx_time() == sh->kernel_time) {
        sh->kernel_lock = 0;
        return;
    }

    n = ngx_http_tw_listen_ports((ngx_cycle_t *) ngx_cycle, ports);

    sh->kernel_listen = ngx_http_tw_kernel_listen(ports, n, log);
    sh->kernel_host = ngx_http_tw_kernel_host(log);
    sh->kernel_time = ngx_time();

    ngx_memory_barrier();

    sh->kernel_lock = 0;
#endif
}


#if (NGX_LINUX)

static ngx_int_t
ngx_http_tw_kernel_listen(u_char *ports, ngx_uint_t n, ngx_log_t *log)
{
    ngx_int_t  v4, v6;

    if (n == 0) {
        return 0;
    }

#if (NGX_HTTP_TW_SOCK_DIAG)

    /*
     * the kernel's dump of its TIME_WAIT sockets alone; /proc/net/tcp,
     * the way without it, lists every socket as text and, while many
     * connections come and go, took up to hundreds of milliseconds
     * where the dump took a few
     */

    v4 = ngx_http_tw_kernel_diag(AF_INET, ports, log);

    if (v4 != NGX_ERROR) {
        v6 = ngx_http_tw_kernel_diag(AF_INET6, ports, log);
        return v4 + (v6 == NGX_ERROR ? 0 : v6);
    }

#endif

    v4 = ngx_http_tw_kernel_file("/proc/net/tcp", ports, log);
    v6 = ngx_http_tw_kernel_file("/proc/net/tcp6", ports, log);

    if (v4 == NGX_ERROR) {
        return -1;
    }

    return v4 + (v6 == NGX_ERROR ? 0 : v6);
}


#if (NGX_HTTP_TW_SOCK_DIAG)

/*
 * Counts the TIME_WAIT sockets of a family whose local port is one of
 * "ports", from a NETLINK_SOCK_DIAG dump filtered on that state, as
 * "ss -tan state time-wait" does.  NGX_ERROR when the kernel cannot
 * dump (no inet_diag, or no such family).
 */

static ngx_int_t
ngx_http_tw_kernel_diag(int family, u_char *ports, ngx_log_t *log)
{
    int                    len;
    ssize_t                got;
    in_port_t              port;
    ngx_int_t              count;
    ngx_socket_t           s;
    struct timeval         tv;
    struct nlmsghdr       *h;
    struct sockaddr_nl     sa;
    struct inet_diag_msg  *m;

    struct {
        struct nlmsghdr          nlh;
        struct inet_diag_req_v2  req;
    } rq;

    /* a dump message is at most 32 KB; aligned as netlink headers are */
    uint32_t               buf[32768 / sizeof(uint32_t)];

    s = ngx_socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);

    if (s == (ngx_socket_t) -1) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, ngx_socket_errno,
                       "tw: no sock_diag socket");
        return NGX_ERROR;
    }

    /* the kernel answers at once; never wait for long whatever happens */

    tv.tv_sec = 1;
    tv.tv_usec = 0;
    (void) setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    ngx_memzero(&rq, sizeof(rq));
    rq.nlh.nlmsg_len = sizeof(rq);
    rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    rq.nlh.nlmsg_flags = NLM_F_REQUEST|NLM_F_DUMP;
    rq.req.sdiag_family = (u_char) family;
    rq.req.sdiag_protocol = IPPROTO_TCP;
    rq.req.idiag_states = 1 << NGX_HTTP_TW_TCP_TIME_WAIT;

    ngx_memzero(&sa, sizeof(sa));
    sa.nl_family = AF_NETLINK;

    if (sendto(s, &rq, sizeof(rq), 0, (struct sockaddr *) &sa, sizeof(sa))
        != (ssize_t) sizeof(rq))
    {
        goto failed;
    }

    count = 0;

    for ( ;; ) {
        got = recv(s, buf, sizeof(buf), 0);

        if (got == -1 && ngx_socket_errno == NGX_EINTR) {
            continue;
        }

        if (got <= 0) {
            goto failed;
        }

        len = (int) got;

        for (h = (struct nlmsghdr *) buf;
             NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len))
        {
            if (h->nlmsg_type == NLMSG_DONE) {
                ngx_close_socket(s);
                return count;
            }

            if (h->nlmsg_type == NLMSG_ERROR) {
                goto failed;
            }

            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY
                || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
            {
                continue;
            }

            m = NLMSG_DATA(h);
            port = ntohs(m->id.idiag_sport);

            if (ngx_http_tw_port_in(ports, port)) {
                count++;
            }
        }
    }

failed:

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, ngx_socket_errno,
                   "tw: no sock_diag dump of family %d", family);

    ngx_close_socket(s);

    return NGX_ERROR;
}

#endif


/*
 * Counts the TIME_WAIT sockets (state 06) whose local port is one of
 * "ports", in a /proc/net/tcp{,6} file:
 *
 *   sl  local_address rem_address   st ...
 *    0: 0100007F:1F90 0100007F:C3A2 06 ...
 */

static ngx_int_t
ngx_http_tw_kernel_file(char *name, u_char *ports, ngx_log_t *log)
{
    u_char      *p, *last, *line, *colon;
    ssize_t      got;
    ngx_fd_t     fd;
    ngx_int_t    count, port;
    ngx_uint_t   field;
    u_char       buf[16384];

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, ngx_errno,
                       "tw: cannot open %s", name);
        return NGX_ERROR;
    }

    count = 0;
    last = buf;

    for ( ;; ) {
        got = read(fd, last, buf + sizeof(buf) - last);

        if (got <= 0) {
            break;
        }

        last += got;
        line = buf;

        for ( ;; ) {
            p = ngx_strlchr(line, last, '\n');

            if (p == NULL) {
                break;
            }

            /* field 1: the local address, "ADDR:PORT"; field 3: state */

            colon = NULL;
            field = 0;
            port = -1;

            for (p = line; *p != '\n'; p++) {
                if (*p == ' ') {
                    if (p > line && p[-1] != ' ') {
                        field++;
                    }
                    continue;
                }

                if (field == 1 && *p == ':') {
                    colon = p;
                    port = ngx_hextoi(p + 1, 4);

                } else if (field == 3) {
                    if (p[0] == '0' && p[1] == '6' && colon
                        && port >= 0 && port <= 65535
                        && ngx_http_tw_port_in(ports, port))
                    {
                        count++;
                    }

                    break;
                }
            }

            line = ngx_strlchr(line, last, '\n') + 1;
        }

        /* keep the partial last line for the next read */

        last = ngx_movemem(buf, line, last - line);

        if (last == buf + sizeof(buf)) {
            break;
        }
    }

    ngx_close_file(fd);

    return count;
}


/* "TCP: inuse 5 orphan 0 tw 12 ..." in /proc/net/sockstat */

static ngx_int_t
ngx_http_tw_kernel_host(ngx_log_t *log)
{
    u_char    *p, *last;
    ssize_t    got;
    ngx_fd_t   fd;
    u_char     buf[1024];

    fd = ngx_open_file("/proc/net/sockstat", NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        return -1;
    }

    got = read(fd, buf, sizeof(buf) - 1);

    ngx_close_file(fd);

    if (got <= 0) {
        return -1;
    }

    last = buf + got;
    *last = '\0';

    p = (u_char *) ngx_strstr(buf, "TCP: ");

    if (p == NULL) {
        return -1;
    }

    p = (u_char *) ngx_strstr(p, " tw ");

    if (p == NULL) {
        return -1;
    }

    p += sizeof(" tw ") - 1;
    last = p;

    while (*last >= '0' && *last <= '9') {
        last++;
    }

    return ngx_atoi(p, last - p);
}

#endif
