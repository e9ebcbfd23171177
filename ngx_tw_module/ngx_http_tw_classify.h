
/*
 * Copyright (C) ngx_tw authors
 */


#ifndef _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_
#define _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


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
    u_char       linger_reset;           /* SO_LINGER {1, 0}: RST */
    u_char       shut_wr;                /* nginx sent FIN by shutdown() */
    u_char       reset_in;               /* an RST nginx has not read */
    u_char       fin_early;              /* client FIN in before answer */
    u_char       exiting_header;         /* the answer began as the worker
                                            was shutting down */

    /*
     * nginx's connection flags at close; terminate first, so that the
     * bytes that start at 0 are the 8 from unread
     */
    u_char       terminate;
    u_char       read_eof;
    u_char       read_error;
    u_char       read_timedout;
    u_char       write_timedout;
    u_char       conn_close;             /* drain or graceful shutdown */
    u_char       conn_error;
    u_char       conn_timedout;
    u_char       exiting;

    /* the last request, recomputed as nginx decided it */
    u_char       body_started;
    u_char       reading_body;           /* still arriving at the end */
    u_char       lingering;
    u_char       upgraded;
    u_char       close_header;           /* "Connection: close" */
    u_char       http10;                 /* HTTP/1.0 without keep-alive */
    u_char       keepalive_zero;         /* keepalive_timeout 0 */
    u_char       requests_limit;         /* keepalive_requests reached */
    u_char       time_limit;             /* keepalive_time reached */
    u_char       browser;                /* keepalive_disable matched */
    u_char       filter_finalize;        /* a filter's error, with
                                            keep-alive on */
    u_char       close_delimited;        /* no length, no chunked coding */
    u_char       keepalive_off;          /* nginx refused keep-alive */
    u_char       keepalive_rest;         /* idle, keepalive_timeout not
                                            up, keepalive_min_timeout
                                            came first */
} ngx_http_tw_snapshot_t;


ngx_uint_t ngx_http_tw_closer(ngx_http_tw_snapshot_t *s);
ngx_uint_t ngx_http_tw_reason(ngx_http_tw_snapshot_t *s, ngx_uint_t closer);
ngx_uint_t ngx_http_tw_error_status(ngx_uint_t status);

extern ngx_str_t  ngx_http_tw_closer_names[];
extern ngx_str_t  ngx_http_tw_reason_names[];


#endif /* _NGX_HTTP_TW_CLASSIFY_H_INCLUDED_ */
