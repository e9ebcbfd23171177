
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * TIME_WAIT now.  The module's estimate: a ring of per-second counts of
 * the closes where nginx sent the first FIN, summed over the last 60
 * seconds, which is how long Linux keeps a TIME_WAIT socket.  Beside it,
 * the kernel's own figures: TIME_WAIT sockets on nginx's HTTP listening
 * ports, and on the whole host, read at most once a second.
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


/*
 * A slot being claimed holds ~pid, its claimer's pid with every bit
 * flipped: above any second of the monotonic clock, as Linux pids stay
 * below 2^22, even with 32-bit counters.
 */

#define ngx_http_tw_ring_busy(pid)      (~(ngx_atomic_uint_t) (pid))
#define ngx_http_tw_ring_is_busy(stamp)                                       \
    ((stamp) >= ~(ngx_atomic_uint_t) 0x3fffff)
#define ngx_http_tw_ring_claimer(stamp) ((ngx_pid_t) ~(stamp))

/* a set of TCP ports, a bit each: every port an nginx can listen on */
#define ngx_http_tw_port_in(set, port)                                        \
    ((set)[(port) >> 3] & (1 << ((port) & 7)))

/* a stamp this far ahead is from before the clock wrapped (24.8 days) */
#define NGX_HTTP_TW_RING_WRAPPED  (NGX_MAX_UINT32_VALUE / 1000 / 2)


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


/*
 * Makes a slot count the second "now".  The first writer of a new second
 * marks the slot busy, zeroes it, then stamps it; the others wait the few
 * instructions that takes.  Returns 0 when the slot cannot be had (a
 * writer stalled mid-way, or this writer's cached time a minute or more
 * behind, the slot counting a later second): that close is then missing
 * from the estimate, and nothing ever blocks.
 */

ngx_uint_t
ngx_http_tw_ring_claim(ngx_atomic_t *stamp, ngx_atomic_t *counts,
    ngx_uint_t n, ngx_atomic_uint_t now)
{
    ngx_uint_t         i, spin;
    ngx_atomic_uint_t  old;

    for (spin = 0; spin < 2048; spin++) {

        old = *stamp;

        if (old == now) {
            return 1;
        }

        if (ngx_http_tw_ring_is_busy(old)) {

            if (spin < 2047) {
                ngx_cpu_pause();
                continue;
            }

            /*
             * still busy after all this: taken over only from a claimer
             * that died, as one that was only descheduled would zero
             * the counts again when it runs on
             */

            if (!ngx_http_tw_pid_gone(ngx_http_tw_ring_claimer(old))) {
                return 0;
            }

        } else if (old > now && old - now < NGX_HTTP_TW_RING_WRAPPED) {

            /*
             * a later second, at least 64 seconds ahead: this worker
             * stalled in one pass of its event loop for that long, the
             * other workers go on counting
             */

            return 0;
        }

        /*
         * a dead claimer's mark, an older second, or a second from
         * before the clock wrapped (a 32-bit ngx_msec_t, every 49.7 days)
         */

        if (ngx_atomic_cmp_set(stamp, old, ngx_http_tw_ring_busy(ngx_pid))) {
            for (i = 0; i < n; i++) {
                counts[i] = 0;
            }

            ngx_memory_barrier();

            *stamp = now;

            return 1;
        }

        ngx_cpu_pause();
    }

    /* the claimer may have finished while the last round looked */

    return (*stamp == now);
}


/*
 * The rest of ngx_http_tw_timewait_add(), from the first close of a
 * second in the estimate's ring: the slot claimed, then the server's
 * ring as there.
 */

ngx_int_t
ngx_http_tw_timewait_claim(ngx_http_tw_shctx_t *sh, ngx_http_tw_block_t *b,
    ngx_uint_t reason, ngx_atomic_uint_t now)
{
    ngx_http_tw_tick_t         *t;
    ngx_http_tw_server_tick_t  *st;

    t = &sh->ring[now % NGX_HTTP_TW_RING];

    if (ngx_http_tw_ring_claim(&t->stamp, t->counts, NGX_HTTP_TW_NREASONS,
                               now))
    {
        (void) ngx_atomic_fetch_add(&t->counts[reason], 1);
    }

    if (b == NULL) {
        return NGX_OK;
    }

    st = &b->ring[now % NGX_HTTP_TW_RING];

    if (st->stamp != now) {
        return ngx_http_tw_timewait_claim_server(st, now);
    }

    (void) ngx_atomic_fetch_add(&st->count, 1);

    return NGX_OK;
}


/* the first close of a second in a server's ring */

ngx_int_t
ngx_http_tw_timewait_claim_server(ngx_http_tw_server_tick_t *st,
    ngx_atomic_uint_t now)
{
    if (ngx_http_tw_ring_claim(&st->stamp, &st->count, 1, now)) {
        (void) ngx_atomic_fetch_add(&st->count, 1);
    }

    return NGX_OK;
}


/* the estimate: all reasons, and each in "reasons" */

ngx_atomic_uint_t
ngx_http_tw_timewait_read(ngx_http_tw_shctx_t *sh,
    ngx_atomic_uint_t *reasons)
{
    ngx_uint_t          i, r;
    ngx_atomic_uint_t   n, now, stamp, total;
    ngx_http_tw_tick_t *t;

    now = ngx_http_tw_ring_now();
    total = 0;

    ngx_memzero(reasons, NGX_HTTP_TW_NREASONS * sizeof(ngx_atomic_uint_t));

    for (i = 0; i < NGX_HTTP_TW_RING; i++) {
        t = &sh->ring[i];
        stamp = t->stamp;

        if (ngx_http_tw_ring_is_busy(stamp)
            || stamp > now || stamp + NGX_HTTP_TW_WINDOW <= now)
        {
            continue;
        }

        /* each count read once: the total is the sum of the reasons */

        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            n = t->counts[r];
            reasons[r] += n;
            total += n;
        }
    }

    return total;
}


ngx_atomic_uint_t
ngx_http_tw_timewait_server(ngx_http_tw_block_t *b)
{
    ngx_uint_t                  i;
    ngx_atomic_uint_t           now, stamp, total;
    ngx_http_tw_server_tick_t  *st;

    now = ngx_http_tw_ring_now();
    total = 0;

    for (i = 0; i < NGX_HTTP_TW_RING; i++) {
        st = &b->ring[i];
        stamp = st->stamp;

        if (!ngx_http_tw_ring_is_busy(stamp)
            && stamp <= now && stamp + NGX_HTTP_TW_WINDOW > now)
        {
            total += st->count;
        }
    }

    return total;
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
