
/*
 * Copyright (C) ngx_tw authors
 */


#ifndef _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_
#define _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A rare path kept out of a hot function: a function that calls nothing,
 * or only in tail position, saves no registers; and the parts of a hot
 * function that are also called from elsewhere, kept in it all the same.
 *
 * The common way of a branch, told to the compiler: laid out straight,
 * and compiled for speed however many branches come before it (without
 * the hints, the end of a long chain of them may be compiled as a path
 * that never runs: a division instead of a multiplication).
 */

#if (defined __GNUC__)
#define ngx_http_tw_noinline      __attribute__ ((noinline))
#define ngx_http_tw_inline        ngx_inline __attribute__ ((always_inline))
#define ngx_http_tw_likely(x)     __builtin_expect(!!(x), 1)
#define ngx_http_tw_unlikely(x)   __builtin_expect(!!(x), 0)
#else
#define ngx_http_tw_noinline
#define ngx_http_tw_inline        ngx_inline
#define ngx_http_tw_likely(x)     (x)
#define ngx_http_tw_unlikely(x)   (x)
#endif


/*
 * Who sent the first FIN, or who ended the connection with an RST.
 * The TIME_WAIT socket lands on the side that sent the first FIN;
 * a reset leaves no TIME_WAIT anywhere.
 */

#define NGX_HTTP_TW_SERVER              0
#define NGX_HTTP_TW_CLIENT              1
#define NGX_HTTP_TW_SERVER_RESET        2
#define NGX_HTTP_TW_CLIENT_RESET        3

#define NGX_HTTP_TW_NCLOSERS            4


/* why the connection ended; the order is the order of every output */

#define NGX_HTTP_TW_KEEPALIVE_DISABLED  0
#define NGX_HTTP_TW_CLIENT_CLOSE        1
#define NGX_HTTP_TW_HTTP10              2
#define NGX_HTTP_TW_KEEPALIVE_BROWSER   3
#define NGX_HTTP_TW_KEEPALIVE_REQUESTS  4
#define NGX_HTTP_TW_KEEPALIVE_TIME      5
#define NGX_HTTP_TW_KEEPALIVE_TIMEOUT   6
#define NGX_HTTP_TW_ERROR_RESPONSE      7
#define NGX_HTTP_TW_HEADER_TIMEOUT      8
#define NGX_HTTP_TW_NO_REQUEST_TIMEOUT  9
#define NGX_HTTP_TW_BODY_TIMEOUT        10
#define NGX_HTTP_TW_SEND_TIMEOUT        11
#define NGX_HTTP_TW_CLOSED_BY_CONFIG    12
#define NGX_HTTP_TW_LINGERING           13
#define NGX_HTTP_TW_SHUTDOWN            14
#define NGX_HTTP_TW_DRAIN               15
#define NGX_HTTP_TW_UPGRADE             16
#define NGX_HTTP_TW_TLS_HANDSHAKE       17
#define NGX_HTTP_TW_HTTP2               18
#define NGX_HTTP_TW_CLIENT_IDLE         19
#define NGX_HTTP_TW_CLIENT_ABORT        20
#define NGX_HTTP_TW_CLIENT_BEFORE_REQ   21
#define NGX_HTTP_TW_OTHER               22

#define NGX_HTTP_TW_NREASONS            23


/* what the connection was doing when it closed */

#define NGX_HTTP_TW_PHASE_WAIT          0   /* no request logged yet */
#define NGX_HTTP_TW_PHASE_HANDSHAKE     1   /* TLS handshake unfinished */
#define NGX_HTTP_TW_PHASE_REQUEST       2   /* closed after its request */
#define NGX_HTTP_TW_PHASE_KEEPALIVE     3   /* idle between requests */
#define NGX_HTTP_TW_PHASE_HTTP2         4


/* TCP states, numbered as Linux numbers them in TCP_INFO */

#define NGX_HTTP_TW_TCP_UNKNOWN         0
#define NGX_HTTP_TW_TCP_ESTABLISHED     1
#define NGX_HTTP_TW_TCP_SYN_SENT        2
#define NGX_HTTP_TW_TCP_SYN_RECV        3
#define NGX_HTTP_TW_TCP_FIN_WAIT1       4
#define NGX_HTTP_TW_TCP_FIN_WAIT2       5
#define NGX_HTTP_TW_TCP_TIME_WAIT       6
#define NGX_HTTP_TW_TCP_CLOSE           7
#define NGX_HTTP_TW_TCP_CLOSE_WAIT      8
#define NGX_HTTP_TW_TCP_LAST_ACK        9
#define NGX_HTTP_TW_TCP_LISTEN          10
#define NGX_HTTP_TW_TCP_CLOSING         11


/*
 * Everything the classifier looks at: the connection's flags at close,
 * the TCP state just before close(), and what the last request on the
 * connection looked like when it was logged.  The flags are bytes, not
 * bit-fields: they are written on every close, and a byte is written
 * with one instruction.
 */

typedef struct {
    ngx_uint_t   phase;
    ngx_uint_t   tcp_state;
    ngx_uint_t   status;
    ngx_uint_t   err_status;             /* of nginx's own error response */

    /* the kernel, just before close() */
    u_char       unread;                 /* close() will send RST */
    u_char       shut_wr;                /* nginx sent FIN by shutdown() */
    u_char       reset_in;               /* an RST nginx has not read */
    u_char       fin_early;              /* client FIN in before answer */
    u_char       exiting_header;         /* the answer began as the worker
                                            was shutting down */

    /* nginx's read event flags and the worker's state at close */
    u_char       read_eof;
    u_char       read_error;
    u_char       read_timedout;
    u_char       exiting;

    /*
     * The flags that take a request off the common way, 8 bytes read as
     * one word by the classifier (ngx_http_tw_rare()); the 16 bytes from
     * unread to upgraded are zeroed at once as a connection starts.
     */
    u_char       terminate;
    u_char       linger_reset;           /* SO_LINGER {1, 0}: RST */
    u_char       write_timedout;
    u_char       conn_close;             /* drain or graceful shutdown */
    u_char       conn_error;
    u_char       conn_timedout;
    u_char       upgraded;
    u_char       filter_finalize;        /* a filter's error, with
                                            keep-alive on */

    /* the last request, recomputed as nginx decided it */
    u_char       body_started;
    u_char       reading_body;           /* still arriving at the end */
    u_char       lingering;
    u_char       keepalive_off;          /* nginx refused keep-alive */

    /*
     * the keep-alive rules and close_delimited, zeroed at once with
     * keepalive_rest, written at close
     */
    u_char       close_header;           /* "Connection: close" */
    u_char       http10;                 /* HTTP/1.0 without keep-alive */
    u_char       keepalive_zero;         /* keepalive_timeout 0 */
    u_char       requests_limit;         /* keepalive_requests reached */
    u_char       time_limit;             /* keepalive_time reached */
    u_char       browser;                /* keepalive_disable matched */
    u_char       close_delimited;        /* no length, no chunked coding */
    u_char       keepalive_rest;         /* idle, keepalive_timeout not
                                            up, keepalive_min_timeout
                                            came first */
} ngx_http_tw_snapshot_t;


ngx_uint_t ngx_http_tw_closer(ngx_http_tw_snapshot_t *s);
ngx_uint_t ngx_http_tw_reason(ngx_http_tw_snapshot_t *s, ngx_uint_t closer);

extern ngx_str_t  ngx_http_tw_closer_names[];
extern ngx_str_t  ngx_http_tw_reason_names[];


static ngx_inline ngx_uint_t ngx_http_tw_error_status(ngx_uint_t status);
static ngx_inline ngx_uint_t ngx_http_tw_rare(ngx_http_tw_snapshot_t *s);


/*
 * Who closed first.  The TCP state read just before close() decides;
 * nginx's own flags decide only where the kernel cannot be asked.
 */

static ngx_http_tw_inline ngx_uint_t
ngx_http_tw_closer_get(ngx_http_tw_snapshot_t *s)
{
    /* the common way: nginx's FIN first, the connection left clean */

    if (ngx_http_tw_likely(s->tcp_state == NGX_HTTP_TW_TCP_ESTABLISHED
                           && !s->unread && !s->linger_reset))
    {
        return NGX_HTTP_TW_SERVER;
    }

    if (s->tcp_state == NGX_HTTP_TW_TCP_CLOSE) {

        /*
         * CLOSE is either a received RST (whose unread bytes stay in the
         * queue), or the end of a lingering close: nginx's FIN, then the
         * client's FIN moved the socket's TIME_WAIT to a separate kernel
         * object.  close() sends nothing on a closed socket, not even
         * with SO_LINGER {1, 0}: an HTTP/2 stream that timed out sets it
         * on the connection's socket, which often ends later with a
         * lingering close.
         */

        if (s->shut_wr && !s->read_error && !s->reset_in) {

            /*
             * both FINs are in; the client's came first if it was already
             * there when nginx started its answer (a half-close); an RST,
             * read by nginx or not, came instead of the client's FIN, or
             * before nginx's shutdown(), which then failed
             */

            return s->fin_early ? NGX_HTTP_TW_CLIENT : NGX_HTTP_TW_SERVER;
        }

        return NGX_HTTP_TW_CLIENT_RESET;
    }

    if (s->linger_reset) {
        return NGX_HTTP_TW_SERVER_RESET;
    }

    if (s->unread) {
        /* close() with unread bytes sends RST */
        return NGX_HTTP_TW_SERVER_RESET;
    }

    switch (s->tcp_state) {

    case NGX_HTTP_TW_TCP_ESTABLISHED:
    case NGX_HTTP_TW_TCP_SYN_RECV:
    case NGX_HTTP_TW_TCP_FIN_WAIT1:
    case NGX_HTTP_TW_TCP_FIN_WAIT2:
    case NGX_HTTP_TW_TCP_CLOSING:
    case NGX_HTTP_TW_TCP_TIME_WAIT:
        return NGX_HTTP_TW_SERVER;

    case NGX_HTTP_TW_TCP_CLOSE_WAIT:
    case NGX_HTTP_TW_TCP_LAST_ACK:
        return NGX_HTTP_TW_CLIENT;

    case NGX_HTTP_TW_TCP_UNKNOWN:
        break;

    default:
        return NGX_HTTP_TW_SERVER;
    }

    /* no TCP state: event flags only */

    if (s->read_error) {
        return NGX_HTTP_TW_CLIENT_RESET;
    }

    if (s->read_eof) {
        return s->shut_wr ? NGX_HTTP_TW_SERVER : NGX_HTTP_TW_CLIENT;
    }

    if (s->phase == NGX_HTTP_TW_PHASE_KEEPALIVE
        && !s->read_timedout && !s->conn_close && !s->terminate)
    {
        /* the keepalive handler swallows ECONNRESET as a plain close */
        return NGX_HTTP_TW_CLIENT_RESET;
    }

    if (s->conn_error && !s->exiting && !s->conn_timedout) {
        return NGX_HTTP_TW_CLIENT;
    }

    return NGX_HTTP_TW_SERVER;
}


/* why the connection ended */

static ngx_http_tw_inline ngx_uint_t
ngx_http_tw_reason_get(ngx_http_tw_snapshot_t *s, ngx_uint_t closer)
{
    ngx_uint_t  client, error;

    /*
     * the client asked to close: its FIN or RST came first, or nginx read
     * the end of its stream (with TLS, a close_notify that may arrive
     * before the client's FIN)
     */

    client = (closer == NGX_HTTP_TW_CLIENT
              || closer == NGX_HTTP_TW_CLIENT_RESET);

    /*
     * the common way: a request that ended with none of the rarer flags
     * and none of the statuses looked at before the keep-alive rules
     * (444, 499, 408), the checks up to the rules all fail
     */

    if (ngx_http_tw_likely(s->phase == NGX_HTTP_TW_PHASE_REQUEST
                           && !ngx_http_tw_rare(s)
                           && (s->status < 400 || s->status > 499)
                           && s->err_status == 0))
    {
        error = 0;
        goto rules;
    }

    if (s->terminate) {
        return NGX_HTTP_TW_SHUTDOWN;
    }

    if (s->phase == NGX_HTTP_TW_PHASE_HTTP2) {
        return NGX_HTTP_TW_HTTP2;
    }

    error = s->conn_error;

    if (s->conn_close) {

        if (!s->shut_wr) {
            return s->exiting ? NGX_HTTP_TW_SHUTDOWN : NGX_HTTP_TW_DRAIN;
        }

        /*
         * a drain, or worker_shutdown_timeout, which adds an error mark,
         * took back a lingering close: nginx's FIN had left already, for
         * the reason the request gives
         */

        error = 0;
    }

    switch (s->phase) {

    case NGX_HTTP_TW_PHASE_WAIT:
    case NGX_HTTP_TW_PHASE_HANDSHAKE:

        /* nginx sets eof on every failed handshake, so it tells nothing */

        if (client
            || (s->read_eof && s->phase == NGX_HTTP_TW_PHASE_WAIT))
        {
            return NGX_HTTP_TW_CLIENT_BEFORE_REQ;
        }

        if (s->read_timedout) {
            return NGX_HTTP_TW_NO_REQUEST_TIMEOUT;
        }

        if (s->phase == NGX_HTTP_TW_PHASE_HANDSHAKE) {
            return NGX_HTTP_TW_TLS_HANDSHAKE;
        }

        /* nginx refused what came first, e.g. a bad PROXY protocol header */

        return NGX_HTTP_TW_ERROR_RESPONSE;

    case NGX_HTTP_TW_PHASE_KEEPALIVE:

        if (client || s->read_eof) {
            return NGX_HTTP_TW_CLIENT_IDLE;
        }

        if (s->read_timedout) {

            /*
             * a worker that is shutting down has closed its idle
             * connections already, but not those within
             * keepalive_min_timeout (1.27.4): it closes each of them
             * when the minimum runs out, before keepalive_timeout
             */

            return (s->exiting && s->keepalive_rest)
                   ? NGX_HTTP_TW_SHUTDOWN : NGX_HTTP_TW_KEEPALIVE_TIMEOUT;
        }

        if (s->read_error) {

            /*
             * nginx could not read what came next: with TLS, a record it
             * could not decrypt, or a renegotiation (an RST is the
             * client's, above)
             */

            return NGX_HTTP_TW_ERROR_RESPONSE;
        }

        return NGX_HTTP_TW_OTHER;

    default: /* NGX_HTTP_TW_PHASE_REQUEST */
        break;
    }

    if (s->status == 444) {        /* NGX_HTTP_CLOSE */
        return NGX_HTTP_TW_CLOSED_BY_CONFIG;
    }

    /* with TLS, a close_notify read by nginx may come before any FIN */

    if (s->status == 499 || (error && (client || s->read_eof))) {
        return NGX_HTTP_TW_CLIENT_ABORT;
    }

    if (s->write_timedout) {
        return NGX_HTTP_TW_SEND_TIMEOUT;
    }

    /*
     * nginx's own error response that turned keep-alive off (a 413), then
     * a discard of the body that timed out: the error closes the
     * connection, the timeout only ends the wait for the body (an
     * error_page may have changed the status with keep-alive on: then
     * the timeout closes).  "error_page 413 =200" leaves a 200 in
     * err_status, and keep-alive off with none of its rules applying:
     * only nginx's error (or a shutdown, which the header notes) turns
     * it off that way.
     */

    if (s->conn_timedout && s->lingering && error && s->keepalive_off
        && (ngx_http_tw_error_status(s->err_status)
            || !(s->close_header || s->http10 || s->keepalive_zero
                 || s->requests_limit || s->time_limit || s->browser
                 || s->exiting_header)))
    {
        return NGX_HTTP_TW_ERROR_RESPONSE;
    }

    /*
     * every request timeout sets c->timedout; a lingering close that ran
     * out of lingering_timeout sets only the read event's flag, and with
     * TLS a delayed close_notify may set c->timedout on its own (a
     * discard that timed out also sets c->error)
     */

    if (s->status == 408
        || (s->conn_timedout && (!s->lingering || error)))
    {
        return s->body_started ? NGX_HTTP_TW_BODY_TIMEOUT
                               : NGX_HTTP_TW_HEADER_TIMEOUT;
    }

    if (s->upgraded) {
        return NGX_HTTP_TW_UPGRADE;
    }

    if (ngx_http_tw_error_status(s->err_status) || s->filter_finalize) {
        return NGX_HTTP_TW_ERROR_RESPONSE;
    }

rules:

    /* the keep-alive rules, in the order nginx applies them */

    if (s->close_header) {
        return NGX_HTTP_TW_CLIENT_CLOSE;
    }

    if (s->http10) {
        return NGX_HTTP_TW_HTTP10;
    }

    if (s->keepalive_zero) {
        return NGX_HTTP_TW_KEEPALIVE_DISABLED;
    }

    if (s->requests_limit) {
        return NGX_HTTP_TW_KEEPALIVE_REQUESTS;
    }

    if (s->time_limit) {
        return NGX_HTTP_TW_KEEPALIVE_TIME;
    }

    if (s->browser) {
        return NGX_HTTP_TW_KEEPALIVE_BROWSER;
    }

    if (s->close_delimited) {
        /* a response without a length that only the close can end */
        return NGX_HTTP_TW_ERROR_RESPONSE;
    }

    if (s->exiting_header) {
        /* nginx's header filter turned keep-alive off */
        return NGX_HTTP_TW_SHUTDOWN;
    }

    if (error) {

        /*
         * nginx gave up on a connection the client had not closed: a
         * request body it could not discard after the response
         */

        return NGX_HTTP_TW_ERROR_RESPONSE;
    }

    if (s->reading_body) {

        /*
         * the response was complete while the request body was still
         * arriving: nginx turns keep-alive off, and closes with a
         * lingering close, or at once with lingering_close off
         */

        return NGX_HTTP_TW_LINGERING;
    }

    /*
     * Keep-alive still on, or off for no reason above: the worker was
     * shutting down as nginx closed.  Not after nginx's FIN, when a
     * lingering close goes on in a worker that exits, unless keep-alive
     * was still on, which only a shutdown refuses.
     */

    if (s->exiting && (!s->shut_wr || !s->keepalive_off)) {
        return NGX_HTTP_TW_SHUTDOWN;
    }

    /*
     * A lingering close is the way nginx closes, the reason only when
     * nothing else turned keep-alive off: a discard that outlasted
     * lingering_time.
     */

    if (s->lingering && !s->keepalive_off) {
        return NGX_HTTP_TW_LINGERING;
    }

    if (s->keepalive_off) {

        /*
         * nginx refused keep-alive after the response had begun: an
         * upstream that failed mid-response, an error_page that replaced
         * a status forcing the close, a body that could not be discarded
         */

        return NGX_HTTP_TW_ERROR_RESPONSE;
    }

    if (client || s->read_eof) {
        return NGX_HTTP_TW_CLIENT_IDLE;
    }

    return NGX_HTTP_TW_OTHER;
}


/*
 * Any of the 8 flags from terminate to filter_finalize, read as one word:
 * terminate, a request's timeouts and errors, an upgrade, a filter's
 * error, and linger_reset, which the reason does not look at.
 */

static ngx_inline ngx_uint_t
ngx_http_tw_rare(ngx_http_tw_snapshot_t *s)
{
    uint64_t  flags;

    ngx_memcpy(&flags, &s->terminate, sizeof(uint64_t));

    return (flags != 0);
}


/* statuses after which nginx never keeps the connection alive */

static ngx_inline ngx_uint_t
ngx_http_tw_error_status(ngx_uint_t status)
{
    switch (status) {
    case 400:   /* NGX_HTTP_BAD_REQUEST */
    case 413:   /* NGX_HTTP_REQUEST_ENTITY_TOO_LARGE */
    case 414:   /* NGX_HTTP_REQUEST_URI_TOO_LARGE */
    case 494:   /* NGX_HTTP_REQUEST_HEADER_TOO_LARGE */
    case 495:   /* NGX_HTTPS_CERT_ERROR */
    case 496:   /* NGX_HTTPS_NO_CERT */
    case 497:   /* NGX_HTTP_TO_HTTPS */
    case 500:   /* NGX_HTTP_INTERNAL_SERVER_ERROR */
    case 501:   /* NGX_HTTP_NOT_IMPLEMENTED */
        return 1;
    default:
        return 0;
    }
}


#endif /* _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_ */
