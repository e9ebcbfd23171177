
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Where the module watches client connections:
 *
 *   - the listener handler: every accepted connection that could be
 *     counted takes the context of its connection slot and is counted
 *     as accepted;
 *   - the header filter: whether the client's FIN had already arrived
 *     when nginx started its answer (epoll reports it with the data);
 *   - the log phase: a snapshot of each request as it ends, with the
 *     keep-alive rules recomputed as nginx applied them;
 *   - the event module's del_conn(), called by ngx_close_connection()
 *     just before close(): the TCP state, while the socket still exists,
 *     then the close is classified and counted, once.
 *
 * Without a del_conn() (an event method other than epoll) a c->pool
 * cleanup counts the close, after close(), from nginx's flags alone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


/* a logged request's state is the phase of its close */

#define NGX_HTTP_TW_STATE_WAIT       0
#define NGX_HTTP_TW_STATE_REQUEST    NGX_HTTP_TW_PHASE_REQUEST
#define NGX_HTTP_TW_STATE_KEEPALIVE  NGX_HTTP_TW_PHASE_KEEPALIVE


#define ngx_http_tw_addr_srv(addr_conf)                                       \
    ((ngx_http_tw_srv_conf_t *) ngx_http_get_module_srv_conf(                 \
                      (addr_conf)->default_server->ctx, ngx_http_tw_module))


static void ngx_http_tw_init_connection(ngx_connection_t *c);
#if (NGX_HTTP_SSL)
static void ngx_http_tw_init_ssl_connection(ngx_connection_t *c);
#endif
static void ngx_http_tw_init_addr_connection(ngx_connection_t *c);
static ngx_inline void ngx_http_tw_accept_one(ngx_connection_t *c,
    ngx_uint_t ssl);
static void ngx_http_tw_accept(ngx_connection_t *c, ngx_uint_t ssl);
static ngx_inline void ngx_http_tw_watch(ngx_connection_t *c,
    ngx_http_tw_conn_t *ctx, ngx_http_tw_srv_conf_t *srv, ngx_uint_t ssl);
static ngx_http_addr_conf_t *ngx_http_tw_addr_conf(ngx_http_port_t *port,
    struct sockaddr *sa);
static ngx_uint_t ngx_http_tw_tcp_listener(ngx_listening_t *ls);
static ngx_int_t ngx_http_tw_del_conn(ngx_connection_t *c,
    ngx_uint_t flags);
#if (NGX_HAVE_EPOLL && NGX_LINUX)
static ngx_http_tw_inline ngx_int_t ngx_http_tw_close(ngx_connection_t *c,
    ngx_http_tw_conn_t *ctx);
static ngx_http_tw_inline ngx_uint_t ngx_http_tw_peekable(
    ngx_connection_t *c, ngx_http_tw_conn_t *ctx);
#endif
static ngx_http_tw_noinline void ngx_http_tw_probe_peeked(
    ngx_connection_t *c, ngx_http_tw_conn_t *ctx, ngx_http_tw_snapshot_t *s,
    ngx_uint_t peek, ssize_t rc, ngx_err_t err);
static void ngx_http_tw_close_handler(void *data);
static ngx_int_t ngx_http_tw_count(ngx_http_tw_conn_t *ctx,
    ngx_connection_t *c);
static ngx_http_tw_inline ngx_int_t ngx_http_tw_exclude(void);
static ngx_http_tw_inline ngx_int_t ngx_http_tw_tally(
    ngx_http_tw_conn_t *ctx, ngx_connection_t *c,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t phase);
static ngx_http_tw_noinline ngx_int_t ngx_http_tw_add_first(
    ngx_http_tw_conn_t *ctx, ngx_connection_t *c,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t closer, ngx_uint_t reason);
static ngx_http_tw_inline ngx_int_t ngx_http_tw_add(ngx_http_tw_conn_t *ctx,
    ngx_connection_t *c, ngx_http_tw_srv_conf_t *srv, ngx_uint_t closer,
    ngx_uint_t reason);
static ngx_http_tw_inline ngx_uint_t ngx_http_tw_phase(
    ngx_http_tw_conn_t *ctx, ngx_connection_t *c);
static ngx_http_tw_noinline ngx_uint_t ngx_http_tw_phase_action(
    ngx_connection_t *c);
static ngx_inline void ngx_http_tw_hist_add(ngx_http_tw_hist_t *h,
    ngx_uint_t hist, ngx_atomic_uint_t value);
static ngx_http_tw_noinline ngx_int_t ngx_http_tw_log_key(
    ngx_http_request_t *r, ngx_connection_t *c, ngx_http_tw_conn_t *ctx,
    ngx_http_tw_srv_conf_t *srv);
static ngx_inline ngx_int_t ngx_http_tw_log_end(ngx_http_request_t *r,
    ngx_connection_t *c, ngx_http_tw_conn_t *ctx);
static ngx_http_tw_noinline ngx_int_t ngx_http_tw_log_close(
    ngx_http_request_t *r, ngx_connection_t *c, ngx_http_tw_conn_t *ctx);
#if (NGX_HTTP_SSL)
static ngx_http_tw_noinline ngx_int_t ngx_http_tw_log_unsent(
    ngx_connection_t *c, ngx_http_tw_snapshot_t *s);
#endif
static ngx_http_tw_inline void ngx_http_tw_snapshot(ngx_http_request_t *r,
    ngx_http_tw_snapshot_t *s);
static ngx_int_t ngx_http_tw_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_tw_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_http_tw_noinline ngx_int_t ngx_http_tw_fin_note(
    ngx_http_request_t *r, ngx_chain_t *in);
static void ngx_http_tw_header_note(ngx_http_request_t *r,
    ngx_event_t *rev);


ngx_http_tw_conn_t               *ngx_http_tw_conns;
ngx_uint_t                        ngx_http_tw_nconns;

static ngx_uint_t                 ngx_http_tw_cleanup;

/* the slots a one-address listener takes directly: 0 with the cleanup */
static ngx_uint_t                 ngx_http_tw_naccept;
static ngx_int_t                (*ngx_http_tw_del_conn_next)(
                                      ngx_connection_t *c, ngx_uint_t flags);

#if (NGX_HAVE_EPOLL)
extern ngx_module_t               ngx_epoll_module;

/* the del_conn() this one calls is epoll's */
static ngx_uint_t                 ngx_http_tw_epoll;
#endif

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

#if (NGX_LINUX)
/*
 * the peek's byte, never looked at: not a local, whose address would
 * give the functions that peek a stack guard
 */
static u_char                     ngx_http_tw_peek_byte;

/*
 * errno of the worker's thread, the only one that closes connections:
 * its address taken once, where each read would call glibc for it
 */
static int                       *ngx_http_tw_errno;
#endif


/*
 * "listen ... multipath": TCP_INFO describes the first subflow, whose
 * state says nothing of the connection's FINs; the peek sees the
 * connection itself, and alone decides (no kernel TLS on MPTCP, so with
 * "ssl" too)
 */

#if (nginx_version >= 1029007)
#define ngx_http_tw_mptcp(c)      ((c)->listening->protocol != 0)
#else
#define ngx_http_tw_mptcp(c)      0
#endif


ngx_int_t
ngx_http_tw_close_init_process(ngx_cycle_t *cycle,
    ngx_http_tw_main_conf_t *twmcf)
{
    ngx_uint_t                   i, n;
    ngx_listening_t             *ls;
    ngx_http_port_t             *port;
    ngx_http_addr_conf_t        *addr_conf;
    ngx_http_tw_srv_conf_t      *srv;
    ngx_connection_handler_pt    handler;

    ngx_http_tw_conns = ngx_pcalloc(cycle->pool,
                                    cycle->connection_n
                                    * sizeof(ngx_http_tw_conn_t));
    if (ngx_http_tw_conns == NULL) {
        return NGX_ERROR;
    }

    ngx_http_tw_nconns = cycle->connection_n;

#if (NGX_LINUX)
    ngx_http_tw_errno = &errno;
#endif

    n = 0;
    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {

        if (!ngx_http_tw_tcp_listener(&ls[i])) {
            continue;
        }

        port = ls[i].servers;

        /* several addresses: each connection is looked at on accept */

        handler = ngx_http_tw_init_addr_connection;

        if (port->naddrs == 1) {

            /*
             * one address: its default server is every connection's;
             * with "tw off" there and no server_name that a request
             * could choose another server by, nothing here is watched
             */

            addr_conf = ngx_http_tw_addr_conf(port, ls[i].sockaddr);
            srv = ngx_http_tw_addr_srv(addr_conf);

            if (!srv->enable && addr_conf->virtual_names == NULL) {
                continue;
            }

            handler = ngx_http_tw_init_connection;

#if (NGX_HTTP_SSL)
            if (addr_conf->ssl) {
                handler = ngx_http_tw_init_ssl_connection;
            }
#endif
        }

        ls[i].handler = handler;
        n++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    /*
     * ngx_close_connection() calls del_conn() just before close(), while
     * the socket can still be asked for its TCP state (epoll only)
     */

    if (ngx_event_actions.del_conn == NULL) {
        ngx_http_tw_cleanup = 1;

    } else {
        ngx_http_tw_naccept = ngx_http_tw_nconns;

        if (ngx_event_actions.del_conn != ngx_http_tw_del_conn) {
            ngx_http_tw_del_conn_next = ngx_event_actions.del_conn;
            ngx_event_actions.del_conn = ngx_http_tw_del_conn;

#if (NGX_HAVE_EPOLL)
            ngx_http_tw_epoll = (ngx_http_tw_del_conn_next
                                 == ((ngx_event_module_t *)
                                     ngx_epoll_module.ctx)->actions.del_conn);
#endif
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "tw: watching %ui listeners, cleanup:%ui",
                   n, ngx_http_tw_cleanup);

    return NGX_OK;
}


/* an HTTP listener on TCP: its closes can leave TIME_WAIT sockets */

static ngx_uint_t
ngx_http_tw_tcp_listener(ngx_listening_t *ls)
{
    if (ls->type != SOCK_STREAM) {
        return 0;
    }

#if (NGX_HAVE_UNIX_DOMAIN)
    if (ls->sockaddr->sa_family == AF_UNIX) {
        return 0;
    }
#endif

#if (NGX_QUIC)
    if (ls->quic) {
        return 0;
    }
#endif

    return (ls->handler == ngx_http_init_connection
#if (NGX_HTTP_SSL)
            || ls->handler == ngx_http_tw_init_ssl_connection
#endif
            || ls->handler == ngx_http_tw_init_connection
            || ls->handler == ngx_http_tw_init_addr_connection);
}


/*
 * Connections still open when the worker exits (fast shutdown): the kernel
 * closes them after this, with no nginx close path in between.
 */

void
ngx_http_tw_close_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t           i;
    ngx_connection_t    *c;
    ngx_http_tw_conn_t  *ctx;

    for (i = 0; i < ngx_http_tw_nconns; i++) {
        ctx = &ngx_http_tw_conns[i];
        c = ctx->connection;

        if (c == NULL || ctx->number != c->number) {
            continue;
        }

        if (c->fd != (ngx_socket_t) -1) {
            ngx_http_tw_probe(c, ctx, &ctx->snap);
        }

        ctx->snap.terminate = 1;

        (void) ngx_http_tw_count(ctx, c);
    }

    ngx_http_tw_nconns = 0;
    ngx_http_tw_naccept = 0;
}


static void
ngx_http_tw_init_connection(ngx_connection_t *c)
{
    ngx_http_tw_accept_one(c, 0);
}


#if (NGX_HTTP_SSL)

/* a listener whose address has "ssl" */

static void
ngx_http_tw_init_ssl_connection(ngx_connection_t *c)
{
    ngx_http_tw_accept_one(c, 1);
}

#endif


/* a listener with several addresses on its port */

static void
ngx_http_tw_init_addr_connection(ngx_connection_t *c)
{
    ngx_http_tw_accept(c, 0);
}


/*
 * A port with one address: the server is known from the listener, and
 * looked up at close if no request names one.  Calls nothing but its
 * tail call, so that it saves no registers.
 */

static ngx_inline void
ngx_http_tw_accept_one(ngx_connection_t *c, ngx_uint_t ssl)
{
    ngx_uint_t  i;

    i = c - ngx_cycle->connections;

    if (i >= ngx_http_tw_naccept) {
        /* a pool cleanup to add, or not watched */
        ngx_http_tw_accept(c, ssl);
        return;
    }

    ngx_http_tw_watch(c, &ngx_http_tw_conns[i], NULL, ssl);

    /* this may run the whole connection and free c: do not touch it after */

    ngx_http_init_connection(c);
}


static void
ngx_http_tw_accept(ngx_connection_t *c, ngx_uint_t ssl)
{
    ngx_uint_t               i;
    ngx_http_port_t         *port;
    ngx_pool_cleanup_t      *cln;
    ngx_http_tw_conn_t      *ctx;
    ngx_http_addr_conf_t    *addr_conf;
    ngx_http_tw_srv_conf_t  *srv;

    i = c - ngx_cycle->connections;

    if (i >= ngx_http_tw_nconns) {
        ngx_http_init_connection(c);
        return;
    }

    /*
     * on a port with one address the server is known from the listener,
     * and looked up at close if no request names one; with several, the
     * address the connection came to decides, as nginx decides it
     */

    srv = NULL;
    port = c->listening->servers;

    if (port->naddrs > 1
        && ngx_connection_local_sockaddr(c, NULL, 0) == NGX_OK)
    {
        addr_conf = ngx_http_tw_addr_conf(port, c->local_sockaddr);
        srv = ngx_http_tw_addr_srv(addr_conf);

        if (!srv->enable && addr_conf->virtual_names == NULL) {
            /* "tw off", and no other server can be reached here */
            ngx_http_init_connection(c);
            return;
        }

#if (NGX_HTTP_SSL)
        ssl = addr_conf->ssl;
#endif
    }

    ctx = &ngx_http_tw_conns[i];

    if (ngx_http_tw_cleanup) {
        cln = ngx_pool_cleanup_add(c->pool, 0);
        if (cln == NULL) {
            ngx_http_init_connection(c);
            return;
        }

        cln->handler = ngx_http_tw_close_handler;
        cln->data = ctx;
    }

    ngx_http_tw_watch(c, ctx, srv, ssl);

    /* this may run the whole connection and free c: do not touch it after */

    ngx_http_init_connection(c);
}


static ngx_inline void
ngx_http_tw_watch(ngx_connection_t *c, ngx_http_tw_conn_t *ctx,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t ssl)
{
    /*
     * what the slot's previous connection left is overwritten before it
     * is read: idle_since with the keep-alive state, the request's part
     * of the snapshot by the log phase, the connection's part at close
     */

    ctx->connection = c;
    ctx->number = c->number;
    ctx->srv = srv;
    ctx->key = NULL;
    ctx->key_conf = NULL;
    ctx->state = NGX_HTTP_TW_STATE_WAIT;
    ctx->http2 = 0;
    ctx->stream_reset = 0;
    ctx->ssl = (u_char) ssl;

    ctx->snap.tcp_state = NGX_HTTP_TW_TCP_UNKNOWN;

    /*
     * 16 bytes at once: those the kernel, the header filter and the
     * worker's exit may set, and the read event's and the request's
     * flags among them, written before they are read
     */

    ctx->snap.unread = 0;
    ctx->snap.shut_wr = 0;
    ctx->snap.reset_in = 0;
    ctx->snap.fin_early = 0;
    ctx->snap.exiting_header = 0;
    ctx->snap.read_eof = 0;
    ctx->snap.read_error = 0;
    ctx->snap.read_timedout = 0;
    ctx->snap.exiting = 0;
    ctx->snap.terminate = 0;
    ctx->snap.linger_reset = 0;
    ctx->snap.write_timedout = 0;
    ctx->snap.conn_close = 0;
    ctx->snap.conn_error = 0;
    ctx->snap.conn_timedout = 0;
    ctx->snap.upgraded = 0;

    (void) ngx_atomic_fetch_add(&ngx_http_tw_counters->accepted, 1);
    (void) ngx_atomic_fetch_add(&ngx_http_tw_proc->open, 1);
}


/*
 * The configuration of the address a connection came to, found as nginx
 * finds it: "sa" is the local address; with one address on the port,
 * any address.
 */

static ngx_http_addr_conf_t *
ngx_http_tw_addr_conf(ngx_http_port_t *port, struct sockaddr *sa)
{
    ngx_uint_t            i;
    struct sockaddr_in   *sin;
    ngx_http_in_addr_t   *addr;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
    ngx_http_in6_addr_t  *addr6;
#endif

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        addr6 = port->addrs;

        /* the last address is "*" */

        for (i = 0; i < port->naddrs - 1; i++) {
            if (ngx_memcmp(&addr6[i].addr6, &sin6->sin6_addr, 16) == 0) {
                break;
            }
        }

        return &addr6[i].conf;
#endif

    default: /* AF_INET */
        sin = (struct sockaddr_in *) sa;
        addr = port->addrs;

        for (i = 0; i < port->naddrs - 1; i++) {
            if (addr[i].addr == sin->sin_addr.s_addr) {
                break;
            }
        }

        return &addr[i].conf;
    }
}


/*
 * Before the event module's own del_conn(): epoll makes no system call
 * for a socket about to be closed (close() takes it out of the epoll
 * set), so that nothing between the look and close() touches the socket.
 */

static ngx_int_t
ngx_http_tw_del_conn(ngx_connection_t *c, ngx_uint_t flags)
{
    ngx_http_tw_conn_t  *ctx;

    if (flags & NGX_CLOSE_EVENT) {
        ctx = ngx_http_tw_lookup(c);

#if (NGX_HAVE_EPOLL && NGX_LINUX)
        if (ngx_http_tw_epoll) {
            /* all that ngx_epoll_del_connection() does with the flag */
            c->read->active = 0;
            c->write->active = 0;

            if (ctx == NULL) {
                return NGX_OK;
            }

            return ngx_http_tw_close(c, ctx);
        }
#endif

        if (ctx != NULL) {
            ngx_http_tw_probe(c, ctx, &ctx->snap);
            (void) ngx_http_tw_count(ctx, c);
        }
    }

    return ngx_http_tw_del_conn_next(c, flags);
}


#if (NGX_HAVE_EPOLL && NGX_LINUX)

/*
 * The common close inline: a peek that fails with EAGAIN, after a
 * request logged, on a connection that has nothing else to ask (see
 * ngx_http_tw_peekable()).  Every other close, and every rare step of
 * this one, is a call in tail position, the peek the only other call:
 * c and ctx are all that del_conn() keeps across a call, and it saves
 * only the registers that hold them.
 */

static ngx_http_tw_inline ngx_int_t
ngx_http_tw_close(ngx_connection_t *c, ngx_http_tw_conn_t *ctx)
{
    int                      err;
    ssize_t                  rc;
    ngx_uint_t               phase;
    ngx_http_tw_srv_conf_t  *srv;

    if (ngx_http_tw_unlikely(!ngx_http_tw_peekable(c, ctx))) {
        ngx_http_tw_probe(c, ctx, &ctx->snap);
        return ngx_http_tw_count(ctx, c);
    }

    rc = recv(c->fd, &ngx_http_tw_peek_byte, 1, MSG_PEEK|MSG_DONTWAIT);
    err = (rc == -1) ? *ngx_http_tw_errno : 0;

    if (ngx_http_tw_unlikely(rc != -1 || err != NGX_EAGAIN)) {
        ngx_http_tw_probe_peeked(c, ctx, &ctx->snap, 1, rc, err);
        return ngx_http_tw_count(ctx, c);
    }

    ctx->snap.tcp_state = NGX_HTTP_TW_TCP_ESTABLISHED;
    ctx->snap.unread = 0;

    /* as ngx_http_tw_count(), with a server and a request logged */

    ctx->connection = NULL;

    srv = ctx->srv;

    if (ngx_http_tw_unlikely(!srv->enable)) {
        return ngx_http_tw_exclude();
    }

    phase = ctx->http2 ? NGX_HTTP_TW_PHASE_HTTP2 : ctx->state;

    return ngx_http_tw_tally(ctx, c, srv, phase);
}


/*
 * A connection the peek alone answers: no "ssl", no multipath, a request
 * logged (and so a server), no timeout: no SO_LINGER to read, no HTTP/2
 * to look for.
 */

static ngx_http_tw_inline ngx_uint_t
ngx_http_tw_peekable(ngx_connection_t *c, ngx_http_tw_conn_t *ctx)
{
    return (!ctx->ssl
            && !ngx_http_tw_mptcp(c)
            && ctx->state != NGX_HTTP_TW_STATE_WAIT
            && ctx->srv != NULL
            && !c->timedout
            && !ctx->stream_reset);
}

#endif


/* the kernel's view of the socket, just before close() */

void
ngx_http_tw_probe(ngx_connection_t *c, ngx_http_tw_conn_t *ctx,
    ngx_http_tw_snapshot_t *s)
{
    ngx_err_t   err;
    ssize_t     rc;
    ngx_uint_t  peek;

    peek = 0;
    rc = 0;
    err = 0;

#if (NGX_LINUX)

    /*
     * One peek answers the common case.  recv() fails with EAGAIN only
     * with no byte to read, no FIN received and no error pending: the
     * socket is ESTABLISHED, or FIN_WAIT1 or FIN_WAIT2 after nginx's
     * shutdown(), and for the classifier all of them are a FIN from
     * nginx first.  Anything else, a byte left (close() will send RST),
     * the client's FIN or an RST, needs the TCP state itself.
     *
     * Not on "listen ssl": with kernel TLS receive the peek goes through
     * the TLS layer, which fails with EAGAIN on a record not yet whole,
     * bytes that close() would reset on.
     */

    if (!ctx->ssl || ngx_http_tw_mptcp(c)) {
        peek = 1;
        rc = recv(c->fd, &ngx_http_tw_peek_byte, 1, MSG_PEEK|MSG_DONTWAIT);
        err = (rc == -1) ? ngx_socket_errno : 0;
    }
#endif

    ngx_http_tw_probe_peeked(c, ctx, s, peek, rc, err);
}


/* the rest of the look, after the peek if any */

static void
ngx_http_tw_probe_peeked(ngx_connection_t *c, ngx_http_tw_conn_t *ctx,
    ngx_http_tw_snapshot_t *s, ngx_uint_t peek, ssize_t rc, ngx_err_t err)
{
    int                        n;
    socklen_t                  len;
    struct linger              linger;
    ngx_uint_t                 fin;
#if (NGX_LINUX)
    ngx_uint_t                 mptcp;
#endif
#if (NGX_HAVE_TCP_INFO && NGX_LINUX)
    int                        so_err;
    struct tcp_info            ti;
#endif
#if (NGX_HTTP_V2)
    ngx_http_v2_connection_t  *h2c;
#endif

    s->tcp_state = NGX_HTTP_TW_TCP_UNKNOWN;
    s->unread = 0;
    fin = 0;

#if (NGX_LINUX)

    mptcp = ngx_http_tw_mptcp(c);

    if (peek) {

        if (rc == -1 && err == NGX_EAGAIN) {
            s->tcp_state = NGX_HTTP_TW_TCP_ESTABLISHED;

        } else if (rc > 0) {
            s->unread = 1;

        } else {

            /*
             * the error of an RST that nginx has not read, which the
             * peek takes: kept in the context, for a later look (the
             * variables look in the log phase); a shutdown() that failed
             * on the RST sent no FIN
             */

            if (err == NGX_ECONNRESET || err == NGX_EPIPE) {
                s->reset_in = 1;
                ctx->snap.reset_in = 1;
            }

            if (mptcp) {
                /* the client's FIN is mapped below, once shut_wr is known */
                fin = (rc == 0);

                if (!fin) {
                    s->tcp_state = NGX_HTTP_TW_TCP_CLOSE;
                }
            }
        }
    }
#endif

#if (NGX_HAVE_TCP_INFO && NGX_LINUX)
    if (s->tcp_state == NGX_HTTP_TW_TCP_UNKNOWN && !mptcp) {
        len = sizeof(struct tcp_info);

        if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
            s->tcp_state = ti.tcpi_state;
        }

        /* without the peek, the RST's error is asked for, when closed */

        len = sizeof(int);

        if (!peek
            && s->tcp_state == NGX_HTTP_TW_TCP_CLOSE
            && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) == 0
            && (so_err == NGX_ECONNRESET || so_err == NGX_EPIPE))
        {
            s->reset_in = 1;
            ctx->snap.reset_in = 1;
        }
    }
#endif

    /*
     * without the peek, the bytes left after the state: the client's
     * last bytes and its FIN may come in between, and bytes seen late
     * are still seen (close() resets on them), where a FIN seen with
     * them gone unseen would be taken for a client's close
     */

    if (!peek && ioctl(c->fd, FIONREAD, &n) == 0 && n > 0) {
        s->unread = 1;
    }


    /*
     * nginx sets SO_LINGER only on timed out connections; an HTTP/2
     * stream that timed out sets it on the connection's socket
     */

    if (c->timedout || ctx->stream_reset) {
        len = sizeof(struct linger);

        if (getsockopt(c->fd, SOL_SOCKET, SO_LINGER, &linger, &len) == 0
            && linger.l_onoff && linger.l_linger == 0)
        {
            s->linger_reset = 1;
        }
    }

#if (NGX_HTTP_V2)
    if (ctx->state == NGX_HTTP_TW_STATE_WAIT
        && c->log->action
        && ngx_strcmp(c->log->action, "processing HTTP/2 connection") == 0)
    {
        ctx->http2 = 1;

        /*
         * c->data is the h2c once ngx_http_v2_init() has allocated it;
         * ngx_http_v2_lingering_close() sets lingering_time before its
         * TLS shutdown, and the empty write handler before shutdown():
         * a close while the TLS shutdown waits to write has sent no FIN
         * (an idle connection already has that handler, so a shutdown()
         * that fails on a reset socket still counts as sent)
         */

        h2c = c->data;

        if (h2c != NULL && h2c->connection == c) {
            s->shut_wr = (h2c->lingering_time != 0
                          && c->write->handler == ngx_http_empty_handler);
        }
    }
#endif

    /*
     * MPTCP, as TCP's state would say: CLOSE_WAIT, or CLOSE after a
     * shutdown() or an RST
     */

    if (fin) {

        /*
         * an RST that nginx has read, or an earlier peek has taken
         * (reset_in), leaves only the end of data to peek: nginx's
         * recv() error, or, in the keep-alive handler, which takes an
         * RST for a plain close, a close without a mark
         */

        s->tcp_state = (s->shut_wr
                        || s->reset_in
                        || c->read->error
                        || (ctx->state == NGX_HTTP_TW_STATE_KEEPALIVE
                            && !c->read->eof && !c->read->timedout
                            && !c->close && !ngx_exiting && !ngx_terminate))
                       ? NGX_HTTP_TW_TCP_CLOSE : NGX_HTTP_TW_TCP_CLOSE_WAIT;
    }
}


/*
 * The c->pool cleanup, without a del_conn(): the socket is closed, and
 * the connection is on the free list.  ngx_http_close_connection()
 * destroys the pool right after ngx_close_connection(), with nothing
 * in between that could take the connection again, so its fields are
 * still this connection's.
 */

static void
ngx_http_tw_close_handler(void *data)
{
    ngx_http_tw_conn_t  *ctx = data;

    ngx_connection_t  *c;

    c = ctx->connection;

    if (c == NULL || ctx->number != c->number) {
        /* already counted at process exit */
        return;
    }

    (void) ngx_http_tw_count(ctx, c);
}


/*
 * At close, at exit, or from the pool cleanup; returns NGX_OK, for the
 * tail call of del_conn()
 */

static ngx_int_t
ngx_http_tw_count(ngx_http_tw_conn_t *ctx, ngx_connection_t *c)
{
    ngx_http_port_t         *port;
    ngx_http_tw_srv_conf_t  *srv;

    /* counted once: the slot is free from now on */

    ctx->connection = NULL;

    srv = ctx->srv;

    if (srv == NULL) {
        port = c->listening->servers;

        if (port->naddrs == 1) {
            srv = ngx_http_tw_addr_srv(
                          ngx_http_tw_addr_conf(port, c->listening->sockaddr));
            ctx->srv = srv;
        }
    }

    if (srv != NULL && !srv->enable) {
        return ngx_http_tw_exclude();
    }

    return ngx_http_tw_tally(ctx, c, srv, ngx_http_tw_phase(ctx, c));
}


/*
 * "tw off" on the server: the open count goes down, the close is not
 * counted
 */

static ngx_http_tw_inline ngx_int_t
ngx_http_tw_exclude(void)
{
    (void) ngx_atomic_fetch_add(&ngx_http_tw_proc->open, -1);
    (void) ngx_atomic_fetch_add(&ngx_http_tw_counters->excluded, 1);

    return NGX_OK;
}


/*
 * The close of a connection that counts, with its phase: classified and
 * counted.  Calls nothing but in tail position.
 */

static ngx_http_tw_inline ngx_int_t
ngx_http_tw_tally(ngx_http_tw_conn_t *ctx, ngx_connection_t *c,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t phase)
{
    ngx_uint_t               closer, reason;
    ngx_http_tw_snapshot_t  *s;

    s = &ctx->snap;
    s->phase = phase;

#if (nginx_version >= 1027004)

    /*
     * closed before keepalive_timeout was up: the timer that ran out, if
     * any, was keepalive_min_timeout's (a SIGTERM may leave the rest's
     * timer to run out in the same cycle, which is keepalive_timeout)
     */

    s->keepalive_rest = (s->phase == NGX_HTTP_TW_PHASE_KEEPALIVE
                         && ngx_current_msec - ctx->idle_since
                            < ctx->keepalive);
#endif

    ngx_http_tw_decide(c, s, &closer, &reason);

    /*
     * TIME_WAIT now is made of the counts below, and of a sample of
     * their totals taken before the first close by nginx of each second
     */

    if (closer == NGX_HTTP_TW_SERVER
        && ngx_http_tw_unlikely(ngx_http_tw_ring_now() != ngx_http_tw_second))
    {
        return ngx_http_tw_add_first(ctx, c, srv, closer, reason);
    }

    return ngx_http_tw_add(ctx, c, srv, closer, reason);
}


/* the first close by nginx of a second in this worker: sampled, counted */

static ngx_int_t
ngx_http_tw_add_first(ngx_http_tw_conn_t *ctx, ngx_connection_t *c,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t closer, ngx_uint_t reason)
{
    ngx_http_tw_timewait_sample(ngx_http_tw_sh);

    return ngx_http_tw_add(ctx, c, srv, closer, reason);
}


static ngx_http_tw_inline ngx_int_t
ngx_http_tw_add(ngx_http_tw_conn_t *ctx, ngx_connection_t *c,
    ngx_http_tw_srv_conf_t *srv, ngx_uint_t closer, ngx_uint_t reason)
{
    ngx_msec_t               now;
    ngx_http_tw_key_t       *key;
    ngx_http_tw_block_t     *block;
    ngx_http_tw_counters_t  *counters;

    /*
     * read before the atomic adds, each of which is a compiler barrier
     * that would have them read again
     */

    block = (srv != NULL) ? srv->block : NULL;
    key = ctx->key;
    counters = ngx_http_tw_counters;
    now = ngx_current_msec;

    /*
     * the open count goes down right before the close is counted: a
     * worker killed between the two leaves the connection in "open"
     * (accepted less closed and lost) for as long as the zone lives;
     * the other order would count it both closed and lost
     */

    (void) ngx_atomic_fetch_add(&ngx_http_tw_proc->open, -1);
    (void) ngx_atomic_fetch_add(&counters->closes[reason][closer], 1);

    ngx_http_tw_hist_add(&counters->hist[NGX_HTTP_TW_HIST_REQUESTS][closer],
                         NGX_HTTP_TW_HIST_REQUESTS, c->requests);
    ngx_http_tw_hist_add(&counters->hist[NGX_HTTP_TW_HIST_LIFETIME][closer],
                         NGX_HTTP_TW_HIST_LIFETIME, now - c->start_time);

    if (ctx->snap.phase == NGX_HTTP_TW_PHASE_KEEPALIVE) {
        ngx_http_tw_hist_add(&counters->hist[NGX_HTTP_TW_HIST_IDLE][closer],
                             NGX_HTTP_TW_HIST_IDLE, now - ctx->idle_since);
    }

    if (block != NULL) {
        (void) ngx_atomic_fetch_add(&block->closes[reason][closer], 1);
    }

    if (key != NULL) {
        (void) ngx_atomic_fetch_add(&key->closes[reason][closer], 1);
    }

    return NGX_OK;
}


static ngx_inline void
ngx_http_tw_hist_add(ngx_http_tw_hist_t *h, ngx_uint_t hist,
    ngx_atomic_uint_t value)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_TW_NBUCKETS - 1; i++) {
        if (value <= ngx_http_tw_hist_bounds[hist][i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->buckets[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, value);
}


/*
 * The TCP ports of nginx's HTTP listeners, watched or not ("tw off" on
 * all of a port's servers), as a set of 65536 bits, one per port: the
 * kernel's TIME_WAIT count is theirs.  Returns how many there are.
 */

ngx_uint_t
ngx_http_tw_listen_ports(ngx_cycle_t *cycle, u_char *ports)
{
    ngx_uint_t        i, n;
    in_port_t         port;
    ngx_listening_t  *ls;

    ngx_memzero(ports, 65536 / 8);

    n = 0;
    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {

        if (!ngx_http_tw_tcp_listener(&ls[i])) {
            continue;
        }

        port = ngx_inet_get_port(ls[i].sockaddr);

        if (!(ports[port >> 3] & (1 << (port & 7)))) {
            ports[port >> 3] |= (u_char) (1 << (port & 7));
            n++;
        }
    }

    return n;
}


static ngx_http_tw_inline ngx_uint_t
ngx_http_tw_phase(ngx_http_tw_conn_t *ctx, ngx_connection_t *c)
{
    if (ctx->http2) {
        return NGX_HTTP_TW_PHASE_HTTP2;
    }

    /* an HTTP/1 request was logged: the hooks know the phase */

    if (ctx->state != NGX_HTTP_TW_STATE_WAIT) {
        return ctx->state;
    }

    return ngx_http_tw_phase_action(c);
}


/* no request logged: nginx's log action says what it was doing */

static ngx_uint_t
ngx_http_tw_phase_action(ngx_connection_t *c)
{
    char  *action;

    action = c->log->action;

    if (action == NULL) {
        return NGX_HTTP_TW_PHASE_WAIT;
    }

    if (ngx_strcmp(action, "processing HTTP/2 connection") == 0) {
        return NGX_HTTP_TW_PHASE_HTTP2;
    }

    if (ngx_strcmp(action, "SSL handshaking") == 0) {
        return NGX_HTTP_TW_PHASE_HANDSHAKE;
    }

    return NGX_HTTP_TW_PHASE_WAIT;
}


ngx_int_t
ngx_http_tw_log_handler(ngx_http_request_t *r)
{
    ngx_connection_t        *c;
    ngx_http_tw_conn_t      *ctx;
    ngx_http_tw_srv_conf_t  *srv;

    if (r != r->main) {
        return NGX_OK;
    }

    c = r->connection;

#if (NGX_HTTP_V2)
    if (r->stream) {
        c = r->stream->connection->connection;
    }
#endif

    ctx = ngx_http_tw_lookup(c);

    if (ctx == NULL) {
        return NGX_OK;
    }

    srv = ngx_http_get_module_srv_conf(r, ngx_http_tw_module);

    if (srv->enable) {
        (void) ngx_atomic_fetch_add(&ngx_http_tw_counters->requests, 1);

        if (srv->block) {
            (void) ngx_atomic_fetch_add(&srv->block->requests, 1);
        }

        if (srv->key) {
            return ngx_http_tw_log_key(r, c, ctx, srv);
        }
    }

    /* the value kept for "connection" is no longer ctx->key */

    ctx->key_conf = NULL;
    ctx->srv = srv;
    ctx->key = NULL;

    return ngx_http_tw_log_end(r, c, ctx);
}


/*
 * The log phase with a "tw_key": out of the handler, which without it
 * calls nothing but in tail position, and so saves no registers.
 */

static ngx_int_t
ngx_http_tw_log_key(ngx_http_request_t *r, ngx_connection_t *c,
    ngx_http_tw_conn_t *ctx, ngx_http_tw_srv_conf_t *srv)
{
    ngx_http_tw_key_t  *key;

    if (ctx->key_conf == srv->key) {
        /* "connection": the value of the first request */
        key = ctx->key;

    } else {
        key = ngx_http_tw_key_get(r, srv->key, ctx->key);

        if (key != NGX_HTTP_TW_KEY_ERROR) {
            ctx->key_conf = srv->key->connection ? srv->key : NULL;

        } else {
            /* not evaluated: the next request tries again */
            key = NULL;
            ctx->key_conf = NULL;
        }
    }

    if (key) {
        (void) ngx_atomic_fetch_add(&key->requests, 1);
    }

    ctx->srv = srv;
    ctx->key = key;

    return ngx_http_tw_log_end(r, c, ctx);
}


static ngx_inline ngx_int_t
ngx_http_tw_log_end(ngx_http_request_t *r, ngx_connection_t *c,
    ngx_http_tw_conn_t *ctx)
{
#if (NGX_HTTP_V2 || nginx_version >= 1027004)
    ngx_http_core_loc_conf_t  *clcf;
#endif

#if (NGX_HTTP_V2)
    if (r->stream) {
        ctx->http2 = 1;

        /* free_request() is about to set SO_LINGER on the shared socket */

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (r->connection->timedout && clcf->reset_timedout_connection) {
            ctx->stream_reset = 1;
        }

        return NGX_OK;
    }
#endif

    /*
     * ngx_http_set_keepalive() frees the request with r->count 1;
     * every closing path frees it with r->count 0
     */

    if (r->count == 1) {
        ctx->state = NGX_HTTP_TW_STATE_KEEPALIVE;
        ctx->idle_since = ngx_current_msec;
        ctx->snap.shut_wr = 0;

#if (nginx_version >= 1027004)

        /*
         * nginx first waits for keepalive_min_timeout, then for the rest
         * of keepalive_timeout unless the worker is shutting down
         */

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        ctx->keepalive = (clcf->keepalive_min_timeout > 0
                          && clcf->keepalive_timeout
                             > clcf->keepalive_min_timeout)
                         ? clcf->keepalive_timeout : 0;
#endif

        return NGX_OK;
    }

    return ngx_http_tw_log_close(r, c, ctx);
}


/*
 * The last request of a connection that closes: the snapshot inline, the
 * TLS check only after a shutdown() on a TLS connection.
 */

static ngx_int_t
ngx_http_tw_log_close(ngx_http_request_t *r, ngx_connection_t *c,
    ngx_http_tw_conn_t *ctx)
{
    ctx->state = NGX_HTTP_TW_STATE_REQUEST;

    ngx_http_tw_snapshot(r, &ctx->snap);

#if (NGX_HTTP_SSL)
    if (ctx->snap.shut_wr && c->ssl) {
        return ngx_http_tw_log_unsent(c, &ctx->snap);
    }
#endif

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_tw_log_unsent(ngx_connection_t *c, ngx_http_tw_snapshot_t *s)
{
    ngx_http_tw_tls_unsent(c, s);

    return NGX_OK;
}

#endif


/*
 * The last request as nginx decided it, taken when the request is logged
 * on a closing path: the keep-alive rules recomputed in nginx's order,
 * and the connection's flags before a delayed TLS shutdown can add to
 * them.
 */

void
ngx_http_tw_request_snapshot(ngx_http_request_t *r, ngx_http_tw_snapshot_t *s)
{
    ngx_http_tw_snapshot(r, s);
}


static ngx_http_tw_inline void
ngx_http_tw_snapshot(ngx_http_request_t *r, ngx_http_tw_snapshot_t *s)
{
    ngx_time_t                *tp;
    ngx_msec_t                 age;
    ngx_msec_int_t             took;
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* the kernel's flags and fin_early stay as they are */

    s->status = r->headers_out.status;

    /*
     * a status nginx answered with itself, where it turns keep-alive off
     * for the worst errors; not one passed on from an upstream server
     */
    s->err_status = r->err_status;

    wev = c->write;

    if (ngx_http_tw_likely(!c->close && !c->error && !c->timedout
                           && !wev->timedout && r->upstream == NULL))
    {
        /*
         * the common way, 8 bytes at once: terminate is set only as the
         * worker exits, after the last log phase; filter_finalize below
         */

        ngx_memzero(&s->terminate, 8);

    } else {
        s->conn_close = c->close;
        s->conn_error = c->error;
        s->conn_timedout = c->timedout;
        s->write_timedout = wev->timedout;

        /* free_request() sets SO_LINGER {1, 0} right after the log phase */
        s->linger_reset = (c->timedout && clcf->reset_timedout_connection);

        s->upgraded = (r->upstream != NULL && r->upstream->upgrade);
        s->filter_finalize = 0;
    }

    if (ngx_http_tw_likely(r->request_body == NULL && !r->discard_body
                           && !r->reading_body && r->lingering_time == 0))
    {
        /*
         * no body, no lingering close: the common way, the 4 bytes from
         * body_started at once (keepalive_off is written below)
         */

        ngx_memzero(&s->body_started, 4);
        s->shut_wr = 0;

    } else {
        s->body_started = (r->request_body != NULL || r->discard_body);
        s->lingering = (r->lingering_time != 0);

        /*
         * nginx closes, with or without a lingering close, on a body
         * arriving
         */
        s->reading_body = r->reading_body;

        if (s->lingering) {

            /*
             * lingering_time is also the deadline of a discard, which
             * ends without a shutdown(); ngx_http_set_lingering_close()
             * sets this write handler right before its shutdown()
             */

            s->shut_wr = (wev->handler == ngx_http_empty_handler);

            /* over TLS, see ngx_http_tw_tls_unsent() */

        } else {
            s->shut_wr = 0;
        }
    }

    /* 8 bytes at once: keepalive_rest is written at close, if used */

    s->close_header = 0;
    s->http10 = 0;
    s->keepalive_zero = 0;
    s->requests_limit = 0;
    s->time_limit = 0;
    s->browser = 0;
    s->close_delimited = 0;
    s->keepalive_rest = 0;

    /*
     * The keep-alive rule that refused keep-alive, the first that applies
     * in nginx's order (ngx_http_handler(), then
     * ngx_http_update_location_config()); only ngx_http_handler() ever
     * sets r->keepalive, so with r->keepalive set no rule applied.
     */

    if (r->keepalive) {
        s->keepalive_off = 0;

        /*
         * a response filter replaced the response with an error (412
         * for If-Match): nginx ends the request with NGX_ERROR, and
         * closes, though the header it sent offered keep-alive
         */

        s->filter_finalize = r->filter_finalize;

        goto done;
    }

    /* the closing paths leave r->keepalive as nginx last decided it */
    s->keepalive_off = 1;

    if (r->headers_in.connection_type == NGX_HTTP_CONNECTION_CLOSE) {
        s->close_header = 1;
        goto done;
    }

    if (r->headers_in.connection_type == 0
        && r->http_version <= NGX_HTTP_VERSION_10)
    {
        s->http10 = 1;
        goto done;
    }

    if (clcf->keepalive_timeout == 0) {
        s->keepalive_zero = 1;
        goto done;
    }

    if (c->requests >= clcf->keepalive_requests) {
        s->requests_limit = 1;
        goto done;
    }

#if (nginx_version >= 1019010)

    /* nginx decides keepalive_time as the request starts */

    tp = ngx_timeofday();
    took = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                             + (tp->msec - r->start_msec));
    age = ngx_current_msec - c->start_time;

    if (took > 0 && (ngx_msec_t) took < age) {
        age -= took;
    }

    if (age > clcf->keepalive_time) {
        s->time_limit = 1;
        goto done;
    }
#endif

    s->browser = ((r->headers_in.msie6 && r->method == NGX_HTTP_POST
                   && (clcf->keepalive_disable
                       & NGX_HTTP_KEEPALIVE_DISABLE_MSIE6))
                  || (r->headers_in.safari
                      && (clcf->keepalive_disable
                          & NGX_HTTP_KEEPALIVE_DISABLE_SAFARI)));

done:

    /* as the chunked filter decides it */

    s->close_delimited = (r->header_sent
                          && r->headers_out.content_length_n == -1
                          && !r->chunked
                          && r->method != NGX_HTTP_HEAD
                          && r->headers_out.status >= NGX_HTTP_OK
                          && r->headers_out.status != NGX_HTTP_NO_CONTENT
                          && r->headers_out.status != NGX_HTTP_NOT_MODIFIED);
}


/*
 * Whether the client's FIN is already in when nginx starts its answer:
 * epoll reports it with the data (pending_eof), or nginx has read it
 * (eof).  Both flags stay set for the rest of the connection once set,
 * so the context is only touched by an answer that follows the client's
 * FIN, or one that begins in a worker that is shutting down: nginx's own
 * header filter, later in the chain, then turns keep-alive off.  An
 * HTTP/2 stream's connection is not in the table: the lookup finds
 * nothing, and its read event is not the socket's anyway.
 */

static ngx_int_t
ngx_http_tw_header_filter(ngx_http_request_t *r)
{
    ngx_event_t  *rev;

    rev = r->connection->read;

    /*
     * nginx's filter also turns keep-alive off on ngx_terminate, but a
     * worker told to terminate exits before the close, which then counts
     * as a shutdown anyway
     */

    if (rev->pending_eof || rev->eof || ngx_exiting) {
        ngx_http_tw_header_note(r, rev);
    }

    return ngx_http_next_header_filter(r);
}


/* what the header filter notes, when it has anything to note */

static void
ngx_http_tw_header_note(ngx_http_request_t *r, ngx_event_t *rev)
{
    ngx_http_tw_conn_t  *ctx;

    ctx = ngx_http_tw_lookup(r->connection);

    if (ctx == NULL) {
        return;
    }

    if (rev->pending_eof || rev->eof) {
        ctx->snap.fin_early = 1;
    }

    if (ngx_exiting && r->keepalive && r == r->main) {
        ctx->snap.exiting_header = 1;
    }
}


/*
 * The client's FIN may also come while the answer is under way, with
 * nothing in nginx to read it: its read handler blocks reading
 * (proxy_ignore_client_abort, for one) and nginx finishes the answer,
 * then, with keep-alive refused (a reload, "Connection: close"), shuts
 * its side down second.  Every write of the answer passes here, the last
 * one in the same event cycle as nginx's shutdown(): a FIN that epoll
 * has reported by then came first.
 */

static ngx_int_t
ngx_http_tw_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_event_t  *rev;

    rev = r->connection->read;

    /* calls only in tail position: r and in stay where they are */

    if (rev->pending_eof || rev->eof) {
        return ngx_http_tw_fin_note(r, in);
    }

    return ngx_http_next_body_filter(r, in);
}


/* what the body filter notes, then passes the chain on */

static ngx_int_t
ngx_http_tw_fin_note(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_tw_conn_t  *ctx;

    ctx = ngx_http_tw_lookup(r->connection);

    if (ctx != NULL) {
        ctx->snap.fin_early = 1;
    }

    return ngx_http_next_body_filter(r, in);
}


/*
 * A header filter rather than a phase handler: it costs a call, where a
 * handler of a request phase costs a step of nginx's phase engine, and
 * it runs later, nearer to nginx's shutdown() in a lingering close.  It
 * only looks: its place in the chain is of no importance.  So does the
 * body filter.
 */

void
ngx_http_tw_close_init_filter(void)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tw_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tw_body_filter;
}
