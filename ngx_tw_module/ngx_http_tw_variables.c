
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


static ngx_int_t ngx_http_tw_variable_close(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tw_variable_conn_requests(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tw_variable_conn_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_connection_t *ngx_http_tw_tcp_connection(ngx_http_request_t *r);


static ngx_http_variable_t  ngx_http_tw_vars[] = {

    { ngx_string("tw_closer"), NULL, ngx_http_tw_variable_close,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tw_reason"), NULL, ngx_http_tw_variable_close,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tw_conn_requests"), NULL,
      ngx_http_tw_variable_conn_requests, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tw_conn_time"), NULL, ngx_http_tw_variable_conn_time,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_tw_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tw_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * $tw_closer and $tw_reason: how the connection ends, for the request
 * after which it ends, as that request is logged; empty for a request
 * after which the connection stays open, and outside the log phase.
 */

static ngx_int_t
ngx_http_tw_variable_close(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *name;
    ngx_uint_t              *decided;
    ngx_connection_t        *c;
    ngx_http_tw_conn_t      *ctx;
    ngx_http_tw_snapshot_t   s;

    c = r->connection;

    /* free_request() logs a request on a closing path with r->count 0 */

    if (r != r->main || r->count != 0 || c->fd == (ngx_socket_t) -1
#if (NGX_HTTP_V2)
        || r->stream
#endif
       )
    {
        v->not_found = 1;
        return NGX_OK;
    }

    ctx = ngx_http_tw_lookup(c);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* once per request, for both variables and every access_log */

    decided = ngx_http_get_module_ctx(r, ngx_http_tw_module);

    if (decided == NULL) {
        decided = ngx_palloc(r->pool, 2 * sizeof(ngx_uint_t));
        if (decided == NULL) {
            return NGX_ERROR;
        }

        /* a copy: the count at close must not see this early look */

        s = ctx->snap;
        s.phase = NGX_HTTP_TW_PHASE_REQUEST;

        ngx_http_tw_request_snapshot(r, &s);
        ngx_http_tw_tls_unsent(c, &s);
        ngx_http_tw_probe(c, ctx, &s);
        ngx_http_tw_decide(c, &s, &decided[0], &decided[1]);

        ngx_http_set_ctx(r, decided, ngx_http_tw_module);
    }

    name = data ? &ngx_http_tw_reason_names[decided[1]]
                : &ngx_http_tw_closer_names[decided[0]];

    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = name->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tw_variable_conn_requests(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_ATOMIC_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uA", ngx_http_tw_tcp_connection(r)->requests)
             - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* how long the connection has been open, in seconds with milliseconds */

static ngx_int_t
ngx_http_tw_variable_conn_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    ngx_msec_t   ms;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ms = ngx_current_msec - ngx_http_tw_tcp_connection(r)->start_time;

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* the TCP connection, also for an HTTP/2 stream */

static ngx_connection_t *
ngx_http_tw_tcp_connection(ngx_http_request_t *r)
{
#if (NGX_HTTP_V2)
    if (r->stream) {
        return r->stream->connection->connection;
    }
#endif

    return r->connection;
}
