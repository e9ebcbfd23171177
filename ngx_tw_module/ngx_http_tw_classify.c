
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


/*
 * The flags read or written at once (ngx_http_tw_rare(), the request's
 * snapshot, the close), each group in as many bytes as it has flags:
 * a build where they are not fails here.
 */

#define ngx_http_tw_in(f, first, n)                                          \
    (offsetof(ngx_http_tw_snapshot_t, f)                                      \
     - offsetof(ngx_http_tw_snapshot_t, first) < n)

typedef char  ngx_http_tw_snapshot_groups_t[
    (ngx_http_tw_in(linger_reset, terminate, 8)
     && ngx_http_tw_in(write_timedout, terminate, 8)
     && ngx_http_tw_in(conn_close, terminate, 8)
     && ngx_http_tw_in(conn_error, terminate, 8)
     && ngx_http_tw_in(conn_timedout, terminate, 8)
     && ngx_http_tw_in(upgraded, terminate, 8)
     && ngx_http_tw_in(filter_finalize, terminate, 8)
     && ngx_http_tw_in(read_error, read_eof, 4)
     && ngx_http_tw_in(read_timedout, read_eof, 4)
     && ngx_http_tw_in(exiting, read_eof, 4)
     && ngx_http_tw_in(reading_body, body_started, 4)
     && ngx_http_tw_in(lingering, body_started, 4)
     && ngx_http_tw_in(keepalive_off, body_started, 4)) ? 1 : -1];


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


ngx_uint_t
ngx_http_tw_closer(ngx_http_tw_snapshot_t *s)
{
    return ngx_http_tw_closer_get(s);
}


ngx_uint_t
ngx_http_tw_reason(ngx_http_tw_snapshot_t *s, ngx_uint_t closer)
{
    return ngx_http_tw_reason_get(s, closer);
}
