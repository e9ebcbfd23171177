
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * The decision: a snapshot in, a closer and a reason out.  Nothing here
 * touches nginx's state or the kernel, so the rules can be tested alone
 * (t/unit/classify.c).  docs/reasons.md explains every outcome.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_tw_classify.h"


ngx_str_t  ngx_http_tw_closer_names[] = {
    ngx_string("server"),
    ngx_string("client"),
    ngx_string("server_reset"),
    ngx_string("client_reset"),
    ngx_null_string
};


ngx_str_t  ngx_http_tw_reason_names[] = {
    ngx_string("keepalive_disabled"),
    ngx_string("client_close"),
    ngx_string("http10"),
    ngx_string("keepalive_disable_browser"),
    ngx_string("keepalive_requests"),
    ngx_string("keepalive_time"),
    ngx_string("keepalive_timeout"),
    ngx_string("error_response"),
    ngx_string("request_header_timeout"),
    ngx_string("no_request_timeout"),
    ngx_string("body_timeout"),
    ngx_string("send_timeout"),
    ngx_string("closed_by_config"),
    ngx_string("lingering"),
    ngx_string("shutdown"),
    ngx_string("drain"),
    ngx_string("upgrade"),
    ngx_string("tls_handshake"),
    ngx_string("http2"),
    ngx_string("client_idle"),
    ngx_string("client_abort"),
    ngx_string("client_before_request"),
    ngx_string("other"),
    ngx_null_string
};


/*
 * Who closed first.  The TCP state read just before close() decides;
 * nginx's own flags decide only where the kernel cannot be asked.
 */

ngx_uint_t
ngx_http_tw_closer(ngx_http_tw_snapshot_t *s)
{
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


/* statuses after which nginx never keeps the connection alive */

ngx_uint_t
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


ngx_uint_t
ngx_http_tw_reason(ngx_http_tw_snapshot_t *s, ngx_uint_t closer)
{
    ngx_uint_t  client, error;

    /*
     * the client asked to close: its FIN or RST came first, or nginx read
     * the end of its stream (with TLS, a close_notify that may arrive
     * before the client's FIN)
     */

    client = (closer == NGX_HTTP_TW_CLIENT
              || closer == NGX_HTTP_TW_CLIENT_RESET);

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
