
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Unit tests of the classifier (ngx_http_tw_classify.c): snapshots in,
 * closer and reason out, no nginx process.  Prints TAP; t/10-classify.t
 * runs it under prove.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_tw_classify.h"


static int  tests, failed;


static void
check(int line, ngx_http_tw_snapshot_t *s, ngx_uint_t closer,
    ngx_uint_t reason, const char *name)
{
    ngx_uint_t  c, r;

    c = ngx_http_tw_closer(s);
    r = ngx_http_tw_reason(s, c);

    tests++;

    if (c == closer && r == reason) {
        printf("ok %d - %s\n", tests, name);
        return;
    }

    failed++;

    printf("not ok %d - %s\n", tests, name);
    printf("#   line %d: got %.*s/%.*s, expected %.*s/%.*s\n", line,
           (int) ngx_http_tw_closer_names[c].len,
           ngx_http_tw_closer_names[c].data,
           (int) ngx_http_tw_reason_names[r].len,
           ngx_http_tw_reason_names[r].data,
           (int) ngx_http_tw_closer_names[closer].len,
           ngx_http_tw_closer_names[closer].data,
           (int) ngx_http_tw_reason_names[reason].len,
           ngx_http_tw_reason_names[reason].data);
}


#define CHECK(s, closer, reason, name)                                       \
    check(__LINE__, s, NGX_HTTP_TW_##closer, NGX_HTTP_TW_##reason, name)


static ngx_http_tw_snapshot_t *
snap(ngx_uint_t phase, ngx_uint_t tcp_state)
{
    static ngx_http_tw_snapshot_t  s;

    ngx_memzero(&s, sizeof(ngx_http_tw_snapshot_t));

    s.phase = phase;
    s.tcp_state = tcp_state;

    return &s;
}


#define REQUEST      NGX_HTTP_TW_PHASE_REQUEST
#define KEEPALIVE    NGX_HTTP_TW_PHASE_KEEPALIVE
#define WAIT         NGX_HTTP_TW_PHASE_WAIT
#define HANDSHAKE    NGX_HTTP_TW_PHASE_HANDSHAKE
#define HTTP2        NGX_HTTP_TW_PHASE_HTTP2

#define ESTAB        NGX_HTTP_TW_TCP_ESTABLISHED
#define FIN_WAIT2    NGX_HTTP_TW_TCP_FIN_WAIT2
#define CLOSE        NGX_HTTP_TW_TCP_CLOSE
#define CLOSE_WAIT   NGX_HTTP_TW_TCP_CLOSE_WAIT
#define LAST_ACK     NGX_HTTP_TW_TCP_LAST_ACK
#define UNKNOWN      NGX_HTTP_TW_TCP_UNKNOWN


static void
test_names(void)
{
    ngx_uint_t  i, j;
    int         ok;

    ok = 1;

    for (i = 0; i < NGX_HTTP_TW_NREASONS; i++) {
        if (ngx_http_tw_reason_names[i].len == 0
            || ngx_http_tw_reason_names[i].len > 25)
        {
            ok = 0;
        }

        for (j = 0; j < ngx_http_tw_reason_names[i].len; j++) {
            u_char  ch = ngx_http_tw_reason_names[i].data[j];

            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
                  || ch == '_'))
            {
                ok = 0;
            }
        }
    }

    tests++;
    printf("%s %d - every reason has a snake_case name of 1..25 bytes\n",
           ok ? "ok" : "not ok", tests);
    failed += !ok;

    tests++;
    ok = (ngx_http_tw_reason_names[NGX_HTTP_TW_NREASONS].len == 0
          && ngx_http_tw_closer_names[NGX_HTTP_TW_NCLOSERS].len == 0);
    printf("%s %d - name tables end where the counts say\n",
           ok ? "ok" : "not ok", tests);
    failed += !ok;
}


static void
test_closer(void)
{
    ngx_http_tw_snapshot_t  *s;

    s = snap(REQUEST, ESTAB);
    s->close_header = 1;
    CHECK(s, SERVER, CLIENT_CLOSE, "ESTABLISHED before close(): server FIN");

    s = snap(REQUEST, FIN_WAIT2);
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, LINGERING, "FIN_WAIT2 after lingering: server FIN");

    s = snap(KEEPALIVE, CLOSE_WAIT);
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_IDLE, "CLOSE_WAIT: client FIN first");

    s = snap(REQUEST, LAST_ACK);
    s->lingering = 1;
    CHECK(s, CLIENT, LINGERING, "LAST_ACK: client FIN first");

    s = snap(KEEPALIVE, CLOSE);
    CHECK(s, CLIENT_RESET, CLIENT_IDLE,
          "CLOSE, no flags, idle: client RST swallowed by nginx");

    s = snap(REQUEST, CLOSE);
    s->lingering = 1;
    s->shut_wr = 1;
    s->read_eof = 1;
    CHECK(s, SERVER, LINGERING,
          "CLOSE after shutdown() and client FIN: server FIN first");

    s = snap(REQUEST, CLOSE);
    s->lingering = 1;
    s->shut_wr = 1;
    s->read_eof = 1;
    s->fin_early = 1;
    s->http10 = 1;
    CHECK(s, CLIENT, HTTP10,
          "CLOSE after shutdown(), but the client's FIN came with its"
          " request: client first");

    s = snap(REQUEST, CLOSE);
    s->lingering = 1;
    s->shut_wr = 1;
    s->read_error = 1;
    CHECK(s, CLIENT_RESET, LINGERING, "CLOSE with recv error: client RST");

    s = snap(REQUEST, CLOSE);
    s->lingering = 1;
    s->shut_wr = 1;
    s->reset_in = 1;
    s->close_header = 1;
    CHECK(s, CLIENT_RESET, CLIENT_CLOSE,
          "CLOSE with an RST nginx did not read: its shutdown() failed");

    s = snap(HTTP2, CLOSE);
    s->shut_wr = 1;
    s->reset_in = 1;
    CHECK(s, CLIENT_RESET, HTTP2,
          "HTTP/2: an RST before nginx's shutdown(), unread");

    s = snap(REQUEST, ESTAB);
    s->unread = 1;
    s->status = 400;
    s->err_status = 400;
    CHECK(s, SERVER_RESET, ERROR_RESPONSE, "unread bytes: close() sends RST");

    s = snap(REQUEST, CLOSE);
    s->unread = 1;
    s->status = 499;
    s->conn_error = 1;
    CHECK(s, CLIENT_RESET, CLIENT_ABORT,
          "CLOSE with bytes left unread: the client's RST, not nginx's");

    s = snap(REQUEST, FIN_WAIT2);
    s->unread = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER_RESET, LINGERING,
          "unread bytes after nginx's FIN: close() still resets");

    s = snap(REQUEST, ESTAB);
    s->linger_reset = 1;
    s->status = 444;
    s->conn_timedout = 1;
    CHECK(s, SERVER_RESET, CLOSED_BY_CONFIG,
          "SO_LINGER 0 (reset_timedout_connection): server RST");

    s = snap(HTTP2, CLOSE);
    s->linger_reset = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, HTTP2,
          "SO_LINGER 0 after both FINs of a lingering close: no RST");

    s = snap(HTTP2, CLOSE);
    s->linger_reset = 1;
    CHECK(s, CLIENT_RESET, HTTP2,
          "SO_LINGER 0 on a socket the client reset: its RST");
}


static void
test_closer_without_tcp_state(void)
{
    ngx_http_tw_snapshot_t  *s;

    s = snap(KEEPALIVE, UNKNOWN);
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_IDLE, "no TCP state: eof means client FIN");

    s = snap(KEEPALIVE, UNKNOWN);
    CHECK(s, CLIENT_RESET, CLIENT_IDLE,
          "no TCP state: idle close without flags is a client RST");

    s = snap(KEEPALIVE, UNKNOWN);
    s->read_timedout = 1;
    CHECK(s, SERVER, KEEPALIVE_TIMEOUT, "no TCP state: idle timeout");

    s = snap(REQUEST, UNKNOWN);
    s->read_error = 1;
    s->conn_error = 1;
    s->status = 400;
    CHECK(s, CLIENT_RESET, CLIENT_ABORT, "no TCP state: recv error");

    s = snap(REQUEST, UNKNOWN);
    s->http10 = 1;
    CHECK(s, SERVER, HTTP10, "no TCP state: otherwise server");
}


static void
test_wait_and_keepalive(void)
{
    ngx_http_tw_snapshot_t  *s;

    s = snap(WAIT, ESTAB);
    s->read_timedout = 1;
    CHECK(s, SERVER, NO_REQUEST_TIMEOUT, "preconnect timed out");

    s = snap(WAIT, CLOSE_WAIT);
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_BEFORE_REQ, "client left before a request");

    s = snap(WAIT, CLOSE);
    s->read_error = 1;
    CHECK(s, CLIENT_RESET, CLIENT_BEFORE_REQ, "client reset before a request");

    s = snap(HANDSHAKE, ESTAB);
    CHECK(s, SERVER, TLS_HANDSHAKE, "TLS handshake failed");

    s = snap(HANDSHAKE, ESTAB);
    s->read_eof = 1;
    CHECK(s, SERVER, TLS_HANDSHAKE,
          "TLS handshake failed (nginx sets eof on every failure)");

    s = snap(HANDSHAKE, ESTAB);
    s->read_timedout = 1;
    CHECK(s, SERVER, NO_REQUEST_TIMEOUT, "TLS handshake timed out");

    s = snap(WAIT, ESTAB);
    s->conn_close = 1;
    CHECK(s, SERVER, DRAIN, "waiting connection reclaimed");

    s = snap(KEEPALIVE, ESTAB);
    s->read_timedout = 1;
    CHECK(s, SERVER, KEEPALIVE_TIMEOUT, "keepalive_timeout");

    s = snap(KEEPALIVE, ESTAB);
    s->read_eof = 1;
    CHECK(s, SERVER, CLIENT_IDLE,
          "TLS close_notify read before the client's FIN: client_idle,"
          " but nginx's FIN goes first");

    s = snap(WAIT, ESTAB);
    s->read_eof = 1;
    CHECK(s, SERVER, CLIENT_BEFORE_REQ,
          "close_notify before any request, FIN not yet arrived");

    s = snap(KEEPALIVE, ESTAB);
    s->conn_close = 1;
    s->exiting = 1;
    CHECK(s, SERVER, SHUTDOWN, "idle connection closed by reload");

    s = snap(KEEPALIVE, ESTAB);
    s->conn_close = 1;
    CHECK(s, SERVER, DRAIN, "idle connection reclaimed (worker_connections)");

    s = snap(KEEPALIVE, ESTAB);
    s->terminate = 1;
    CHECK(s, SERVER, SHUTDOWN, "fast shutdown");

    s = snap(KEEPALIVE, ESTAB);
    CHECK(s, SERVER, OTHER, "idle close nobody explains stays visible");

    s = snap(KEEPALIVE, ESTAB);
    s->exiting = 1;
    s->read_timedout = 1;
    s->keepalive_rest = 1;
    CHECK(s, SERVER, SHUTDOWN,
          "keepalive_min_timeout run out while exiting: the shutdown's");

    s = snap(KEEPALIVE, ESTAB);
    s->exiting = 1;
    s->read_timedout = 1;
    CHECK(s, SERVER, KEEPALIVE_TIMEOUT,
          "keepalive_timeout run out while exiting: still the timeout");

    s = snap(KEEPALIVE, ESTAB);
    s->read_timedout = 1;
    s->keepalive_rest = 1;
    CHECK(s, SERVER, KEEPALIVE_TIMEOUT,
          "keepalive_timeout after a minimum");
}


static void
test_request(void)
{
    ngx_http_tw_snapshot_t  *s;

    s = snap(REQUEST, ESTAB);
    s->keepalive_zero = 1;
    CHECK(s, SERVER, KEEPALIVE_DISABLED, "keepalive_timeout 0");

    s = snap(REQUEST, ESTAB);
    s->close_header = 1;
    s->keepalive_zero = 1;
    CHECK(s, SERVER, CLIENT_CLOSE,
          "Connection: close wins over keepalive_timeout 0 (nginx order)");

    s = snap(REQUEST, ESTAB);
    s->http10 = 1;
    s->requests_limit = 1;
    CHECK(s, SERVER, HTTP10, "HTTP/1.0 before keepalive_requests");

    s = snap(REQUEST, ESTAB);
    s->requests_limit = 1;
    s->time_limit = 1;
    CHECK(s, SERVER, KEEPALIVE_REQUESTS, "keepalive_requests before time");

    s = snap(REQUEST, ESTAB);
    s->time_limit = 1;
    s->browser = 1;
    CHECK(s, SERVER, KEEPALIVE_TIME, "keepalive_time before browser");

    s = snap(REQUEST, ESTAB);
    s->browser = 1;
    CHECK(s, SERVER, KEEPALIVE_BROWSER, "keepalive_disable msie6/safari");

    s = snap(REQUEST, ESTAB);
    s->status = 400;
    s->err_status = 400;
    s->http10 = 1;
    CHECK(s, SERVER, ERROR_RESPONSE, "400 wins over the keep-alive rules");

    s = snap(REQUEST, ESTAB);
    s->status = 500;
    s->close_header = 1;
    CHECK(s, SERVER, CLIENT_CLOSE,
          "a 500 passed on from an upstream server keeps keep-alive");

    s = snap(REQUEST, ESTAB);
    s->status = 500;
    s->err_status = 500;
    s->keepalive_off = 1;
    CHECK(s, SERVER, ERROR_RESPONSE, "nginx's own 500 turns keep-alive off");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 413;
    s->err_status = 413;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, ERROR_RESPONSE, "413 goes through lingering close");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->close_delimited = 1;
    CHECK(s, SERVER, ERROR_RESPONSE, "response delimited by the close");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->close_delimited = 1;
    s->close_header = 1;
    CHECK(s, SERVER, CLIENT_CLOSE,
          "Connection: close explains a close-delimited response first");

    s = snap(REQUEST, ESTAB);
    s->status = 408;
    s->read_timedout = 1;
    s->conn_timedout = 1;
    CHECK(s, SERVER, HEADER_TIMEOUT, "client_header_timeout, partial request");

    s = snap(REQUEST, ESTAB);
    s->status = 408;
    s->conn_timedout = 1;
    s->body_started = 1;
    CHECK(s, SERVER, BODY_TIMEOUT, "client_body_timeout");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->write_timedout = 1;
    s->conn_timedout = 1;
    CHECK(s, SERVER, SEND_TIMEOUT, "send_timeout, 200 already logged");

    s = snap(REQUEST, ESTAB);
    s->status = 413;
    s->err_status = 413;
    s->conn_timedout = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->body_started = 1;
    s->keepalive_off = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "413, then the discard of the body timed out: the 413 closed");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->conn_timedout = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->body_started = 1;
    CHECK(s, SERVER, BODY_TIMEOUT,
          "200, then the discard of the body timed out: the timeout closed");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->err_status = 200;
    s->conn_timedout = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->body_started = 1;
    s->keepalive_off = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "error_page 413 =200, then the discard timed out: the 413 closed");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->conn_timedout = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->body_started = 1;
    s->keepalive_off = 1;
    s->close_header = 1;
    CHECK(s, SERVER, BODY_TIMEOUT,
          "Connection: close, then the discard timed out: the timeout");

    s = snap(REQUEST, ESTAB);
    s->status = 500;
    s->err_status = 500;
    s->conn_timedout = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->body_started = 1;
    CHECK(s, SERVER, BODY_TIMEOUT,
          "error_page 404 =500 keeps keep-alive; the discard timed out");

    s = snap(REQUEST, ESTAB);
    s->status = 413;
    s->err_status = 413;
    s->write_timedout = 1;
    s->conn_timedout = 1;
    s->keepalive_off = 1;
    CHECK(s, SERVER, SEND_TIMEOUT, "413 whose sending timed out");

    s = snap(REQUEST, ESTAB);
    s->status = 444;
    s->conn_timedout = 1;
    CHECK(s, SERVER, CLOSED_BY_CONFIG, "return 444");

    s = snap(REQUEST, CLOSE_WAIT);
    s->status = 499;
    s->conn_error = 1;
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_ABORT, "status 499: the client went away");

    s = snap(REQUEST, CLOSE_WAIT);
    s->status = 400;
    s->conn_error = 1;
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_ABORT,
          "client closed inside its request line: abort, not an error");

    s = snap(REQUEST, ESTAB);
    s->upgraded = 1;
    s->status = 101;
    CHECK(s, SERVER, UPGRADE, "upgraded connection ended by nginx");

    s = snap(REQUEST, CLOSE_WAIT);
    s->upgraded = 1;
    s->status = 101;
    s->read_eof = 1;
    CHECK(s, CLIENT, UPGRADE, "upgraded connection ended by the client");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, LINGERING, "lingering close for no other reason");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->lingering = 1;
    s->shut_wr = 1;
    s->body_started = 1;
    s->read_timedout = 1;
    CHECK(s, SERVER, LINGERING,
          "lingering_timeout is not a body timeout (no c->timedout)");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->conn_close = 1;
    s->lingering = 1;
    CHECK(s, SERVER, DRAIN, "lingering connection reclaimed");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->conn_close = 1;
    s->conn_error = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    s->keepalive_off = 1;
    s->reading_body = 1;
    CHECK(s, SERVER, LINGERING,
          "a lingering close taken back after nginx's FIN keeps its reason");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->exiting = 1;
    CHECK(s, SERVER, SHUTDOWN, "closed after a request while exiting");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->conn_close = 1;
    s->conn_error = 1;
    s->exiting = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, SHUTDOWN,
          "worker_shutdown_timeout on a linger that only exiting began");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->exiting = 1;
    s->exiting_header = 1;
    s->keepalive_off = 1;
    CHECK(s, SERVER, SHUTDOWN,
          "answered while exiting: nginx's header filter said close");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->exiting = 1;
    s->exiting_header = 1;
    s->keepalive_off = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, SHUTDOWN,
          "answered while exiting, then a lingering close");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->exiting = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    CHECK(s, SERVER, SHUTDOWN,
          "a lingering close with keep-alive on: only exiting refuses it");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->exiting = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    s->keepalive_off = 1;
    s->reading_body = 1;
    CHECK(s, SERVER, LINGERING,
          "a lingering close begun before the reload keeps its reason");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->exiting = 1;
    s->lingering = 1;
    s->shut_wr = 1;
    s->keepalive_off = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "a lingering close after keep-alive was refused, then a reload");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->exiting = 1;
    s->keepalive_off = 1;
    s->reading_body = 1;
    s->unread = 1;
    CHECK(s, SERVER_RESET, LINGERING,
          "lingering_close off: a body still arriving, closed at once");

    s = snap(REQUEST, CLOSE_WAIT);
    s->status = 200;
    s->read_eof = 1;
    CHECK(s, CLIENT, CLIENT_IDLE, "client closed right after the response");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->keepalive_off = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "keep-alive refused after the response began (upstream failed)");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->lingering = 1;
    s->shut_wr = 1;
    s->conn_timedout = 1;
    s->keepalive_off = 1;
    s->reading_body = 1;
    CHECK(s, SERVER, LINGERING,
          "a TLS close_notify timer during lingering is no request timeout");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 200;
    s->lingering = 1;
    s->shut_wr = 1;
    s->keepalive_off = 1;
    s->body_started = 1;
    s->reading_body = 1;
    CHECK(s, SERVER, LINGERING,
          "response complete while the body was still arriving");

    s = snap(REQUEST, FIN_WAIT2);
    s->status = 405;
    s->lingering = 1;
    s->shut_wr = 1;
    s->keepalive_off = 1;
    s->body_started = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "a body nginx could not discard, then a lingering close");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->lingering = 1;
    s->conn_error = 1;
    s->body_started = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "a discard after the response failed on the body");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->lingering = 1;
    s->body_started = 1;
    CHECK(s, SERVER, LINGERING,
          "a discard that outlasted lingering_time");

    s = snap(REQUEST, ESTAB);
    s->status = 412;
    s->filter_finalize = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "412 from a response filter, sent with keep-alive, then closed");

    s = snap(WAIT, ESTAB);
    CHECK(s, SERVER, ERROR_RESPONSE,
          "nginx refused what came before a request (PROXY protocol)");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    CHECK(s, SERVER, OTHER, "unexplained server close stays visible");

    s = snap(KEEPALIVE, ESTAB);
    s->read_error = 1;
    CHECK(s, SERVER, ERROR_RESPONSE,
          "idle, nginx could not read what came (a bad TLS record)");

    s = snap(REQUEST, ESTAB);
    s->status = 200;
    s->read_eof = 1;
    s->body_started = 1;
    CHECK(s, SERVER, CLIENT_IDLE,
          "TLS close_notify while a body was discarded: the client's end");

    s = snap(REQUEST, ESTAB);
    s->status = 400;
    s->read_eof = 1;
    s->conn_error = 1;
    CHECK(s, SERVER, CLIENT_ABORT,
          "TLS close_notify in the middle of a request: aborted");

    s = snap(HTTP2, ESTAB);
    s->read_timedout = 1;
    CHECK(s, SERVER, HTTP2, "HTTP/2, one reason for now");

    s = snap(HTTP2, CLOSE_WAIT);
    s->read_eof = 1;
    CHECK(s, CLIENT, HTTP2, "HTTP/2 closed by the client");
}


int
main(void)
{
    test_names();
    test_closer();
    test_closer_without_tcp_state();
    test_wait_and_keepalive();
    test_request();

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
