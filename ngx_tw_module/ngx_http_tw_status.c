
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


typedef struct {
    ngx_http_tw_counters_t   sum;
    ngx_atomic_uint_t        closers[NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        reasons[NGX_HTTP_TW_NREASONS];
    ngx_atomic_uint_t        closed;
    ngx_atomic_uint_t        accepted;
    ngx_atomic_uint_t        open;
    ngx_atomic_uint_t        generation;
    time_t                   start_time;
} ngx_http_tw_report_t;


static ngx_int_t ngx_http_tw_status_format(ngx_http_request_t *r,
    ngx_uint_t *format, ngx_str_t *error);
static ngx_int_t ngx_http_tw_status_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *text);
static void ngx_http_tw_status_collect(ngx_http_tw_shctx_t *sh,
    ngx_http_tw_report_t *rp);
static u_char *ngx_http_tw_status_text(u_char *p, ngx_http_tw_report_t *rp);
static u_char *ngx_http_tw_status_json(u_char *p, ngx_http_tw_report_t *rp);
static u_char *ngx_http_tw_status_prometheus(u_char *p,
    ngx_http_tw_report_t *rp);


typedef u_char *(*ngx_http_tw_render_pt)(u_char *p, ngx_http_tw_report_t *rp);


/* indexed by NGX_HTTP_TW_FORMAT_* */

ngx_conf_enum_t  ngx_http_tw_status_formats[] = {
    { ngx_string("text"), NGX_HTTP_TW_FORMAT_TEXT },
    { ngx_string("json"), NGX_HTTP_TW_FORMAT_JSON },
    { ngx_string("prometheus"), NGX_HTTP_TW_FORMAT_PROMETHEUS },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_tw_content_types[] = {
    ngx_string("text/plain"),
    ngx_string("application/json"),
    ngx_string("text/plain; version=0.0.4"),
};


static ngx_http_tw_render_pt  ngx_http_tw_renderers[] = {
    ngx_http_tw_status_text,
    ngx_http_tw_status_json,
    ngx_http_tw_status_prometheus,
};


#define NGX_HTTP_TW_TEXT_HEADER                                              \
    "reason                           server "                               \
    "      client server_reset client_reset\n"


/*
 * An upper bound for any format: one line per reason and closer (the
 * Prometheus table), and as many again for the rest, each at most 192
 * bytes with every number at its widest.
 */

#define NGX_HTTP_TW_STATUS_LEN                                               \
    ((NGX_HTTP_TW_NREASONS * NGX_HTTP_TW_NCLOSERS + 64) * 192)


ngx_int_t
ngx_http_tw_status_handler(ngx_http_request_t *r)
{
    size_t                    size;
    u_char                    msg[128];
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_str_t                 error;
    ngx_uint_t                format;
    ngx_chain_t               out;
    ngx_table_elt_t          *allow;
    ngx_http_tw_report_t      rp;
    ngx_http_tw_loc_conf_t   *twlcf;
    ngx_http_tw_main_conf_t  *twmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {

        allow = ngx_list_push(&r->headers_out.headers);
        if (allow == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        allow->hash = 1;
        ngx_str_set(&allow->key, "Allow");
        ngx_str_set(&allow->value, "GET, HEAD");

        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    twlcf = ngx_http_get_module_loc_conf(r, ngx_http_tw_module);

    format = twlcf->format;
    error.data = msg;

    rc = ngx_http_tw_status_format(r, &format, &error);

    if (rc != NGX_OK) {
        return ngx_http_tw_status_error(r, rc, &error);
    }

    twmcf = ngx_http_get_module_main_conf(r, ngx_http_tw_module);

    if (twmcf->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_tw_status_collect(twmcf->sh, &rp);

    size = NGX_HTTP_TW_STATUS_LEN;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_tw_renderers[format](b->last, &rp);

    r->headers_out.content_type = ngx_http_tw_content_types[format];
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * "format" comes in with the location's default; "error" points to 128
 * bytes for the reason of a refusal
 */

static ngx_int_t
ngx_http_tw_status_format(ngx_http_request_t *r, ngx_uint_t *format,
    ngx_str_t *error)
{
    u_char           *p;
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_conf_enum_t  *f;

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) != NGX_OK) {
        return NGX_OK;
    }

    for (f = ngx_http_tw_status_formats; f->name.len; f++) {
        if (value.len == f->name.len
            && ngx_strncmp(value.data, f->name.data, value.len) == 0)
        {
            *format = f->value;
            return NGX_OK;
        }
    }

    p = ngx_cpymem(error->data, "unknown format \"",
                   sizeof("unknown format \"") - 1);

    for (i = 0; i < value.len && i < 32; i++) {
        *p++ = (value.data[i] >= 0x20 && value.data[i] < 0x7f
                && value.data[i] != '"') ? value.data[i] : '?';
    }

    p = ngx_cpymem(p, "\", use \"text\", \"json\" or \"prometheus\"\n",
                   sizeof("\", use \"text\", \"json\" or \"prometheus\"\n")
                   - 1);

    error->len = p - error->data;

    return NGX_HTTP_BAD_REQUEST;
}


static ngx_int_t
ngx_http_tw_status_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    b = ngx_create_temp_buf(r->pool, text->len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text->data, text->len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = text->len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* one consistent snapshot per response */

static void
ngx_http_tw_status_collect(ngx_http_tw_shctx_t *sh, ngx_http_tw_report_t *rp)
{
    ngx_uint_t          r, k;
    ngx_atomic_uint_t   n;

    ngx_memzero(rp, sizeof(ngx_http_tw_report_t));

    ngx_http_tw_zone_read(sh, &rp->sum);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            n = rp->sum.closes[r][k];
            rp->reasons[r] += n;
            rp->closers[k] += n;
            rp->closed += n;
        }
    }

    /* connections whose server has "tw off" are not reported */

    rp->accepted = rp->sum.accepted - rp->sum.excluded;
    rp->open = rp->accepted - rp->closed;
    rp->generation = sh->generation;
    rp->start_time = sh->start_time;
}


static u_char *
ngx_http_tw_status_text(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_str_t   *name;
    ngx_uint_t   r, k;

    p = ngx_sprintf(p, "ngx_tw %s, nginx %s\n",
                    NGX_HTTP_TW_VERSION, NGINX_VERSION);

    p = ngx_sprintf(p, "uptime: %T s, reloads: %uA\n",
                    ngx_time() - rp->start_time, rp->generation);

    p = ngx_sprintf(p, "connections: accepted %uA, open %uA, closed %uA, "
                    "requests %uA\n",
                    rp->accepted, rp->open, rp->closed, rp->sum.requests);

    p = ngx_sprintf(p, "first FIN: server %uA, client %uA; "
                    "reset: by server %uA, by client %uA\n\n",
                    rp->closers[NGX_HTTP_TW_SERVER],
                    rp->closers[NGX_HTTP_TW_CLIENT],
                    rp->closers[NGX_HTTP_TW_SERVER_RESET],
                    rp->closers[NGX_HTTP_TW_CLIENT_RESET]);

    p = ngx_cpymem(p, NGX_HTTP_TW_TEXT_HEADER,
                   sizeof(NGX_HTTP_TW_TEXT_HEADER) - 1);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        name = &ngx_http_tw_reason_names[r];

        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_cpymem(p, "                          ", 26 - name->len);

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            p = ngx_sprintf(p, " %12uA", rp->sum.closes[r][k]);
        }

        *p++ = LF;
    }

    return p;
}


static u_char *
ngx_http_tw_status_json(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_uint_t  r, k;

    p = ngx_sprintf(p, "{\"schema\":%d,\"version\":\"%s\","
                    "\"nginx_version\":\"%s\",\"start_time\":%T,"
                    "\"current_time\":%T,\"generation\":%uA,\n",
                    NGX_HTTP_TW_SCHEMA, NGX_HTTP_TW_VERSION, NGINX_VERSION,
                    rp->start_time, ngx_time(), rp->generation);

    p = ngx_sprintf(p, "\"connections\":{\"accepted\":%uA,\"open\":%uA,"
                    "\"closed\":%uA,\"excluded\":%uA},\"requests\":%uA,\n",
                    rp->accepted, rp->open, rp->closed, rp->sum.excluded,
                    rp->sum.requests);

    p = ngx_cpymem(p, "\"closers\":{", sizeof("\"closers\":{") - 1);

    for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
        p = ngx_sprintf(p, "%s\"%V\":%uA", k ? "," : "",
                        &ngx_http_tw_closer_names[k], rp->closers[k]);
    }

    p = ngx_cpymem(p, "},\n\"reasons\":{\n", sizeof("},\n\"reasons\":{\n") - 1);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        p = ngx_sprintf(p, "%s\"%V\":{\"total\":%uA", r ? ",\n" : "",
                        &ngx_http_tw_reason_names[r], rp->reasons[r]);

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            p = ngx_sprintf(p, ",\"%V\":%uA", &ngx_http_tw_closer_names[k],
                            rp->sum.closes[r][k]);
        }

        *p++ = '}';
    }

    p = ngx_cpymem(p, "\n}}\n", sizeof("\n}}\n") - 1);

    return p;
}


/*
 * The Prometheus text exposition format: counters end in _total, times
 * are in seconds, and no gauge shares a name with a counter.
 */

static u_char *
ngx_http_tw_status_prometheus(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_uint_t  r, k;

    p = ngx_sprintf(p,
            "# HELP nginx_tw_info The ngx_tw module and nginx versions.\n"
            "# TYPE nginx_tw_info gauge\n"
            "nginx_tw_info{version=\"%s\",nginx_version=\"%s\"} 1\n"
            "# HELP nginx_tw_start_time_seconds When the counters started"
            " (unix time).\n"
            "# TYPE nginx_tw_start_time_seconds gauge\n"
            "nginx_tw_start_time_seconds %T\n"
            "# HELP nginx_tw_reloads_total Reloads since the counters"
            " started.\n"
            "# TYPE nginx_tw_reloads_total counter\n"
            "nginx_tw_reloads_total %uA\n",
            NGX_HTTP_TW_VERSION, NGINX_VERSION, rp->start_time,
            rp->generation);

    p = ngx_sprintf(p,
            "# HELP nginx_tw_connections_accepted_total Client connections"
            " accepted and tracked.\n"
            "# TYPE nginx_tw_connections_accepted_total counter\n"
            "nginx_tw_connections_accepted_total %uA\n"
            "# HELP nginx_tw_connections_excluded_total Connections that"
            " closed in a server with tw off.\n"
            "# TYPE nginx_tw_connections_excluded_total counter\n"
            "nginx_tw_connections_excluded_total %uA\n"
            "# HELP nginx_tw_connections_open Tracked connections open"
            " now.\n"
            "# TYPE nginx_tw_connections_open gauge\n"
            "nginx_tw_connections_open %uA\n"
            "# HELP nginx_tw_requests_total Requests on tracked"
            " connections.\n"
            "# TYPE nginx_tw_requests_total counter\n"
            "nginx_tw_requests_total %uA\n",
            rp->accepted, rp->sum.excluded, rp->open, rp->sum.requests);

    p = ngx_cpymem(p,
            "# HELP nginx_tw_connections_closed_total Closed connections,"
            " by who sent the first FIN (or the RST) and why.\n"
            "# TYPE nginx_tw_connections_closed_total counter\n",
            sizeof("# HELP nginx_tw_connections_closed_total Closed"
                   " connections, by who sent the first FIN (or the RST)"
                   " and why.\n"
                   "# TYPE nginx_tw_connections_closed_total counter\n")
            - 1);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            p = ngx_sprintf(p, "nginx_tw_connections_closed_total"
                            "{reason=\"%V\",closer=\"%V\"} %uA\n",
                            &ngx_http_tw_reason_names[r],
                            &ngx_http_tw_closer_names[k],
                            rp->sum.closes[r][k]);
        }
    }

    return p;
}
