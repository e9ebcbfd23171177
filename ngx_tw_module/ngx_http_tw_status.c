
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"
#include "ngx_http_tw_status.h"


ngx_http_tw_hist_name_t  ngx_http_tw_hists[] = {
    { ngx_string("requests"), "requests per connection", 0 },
    { ngx_string("duration_seconds"), "connection lifetime", 1 },
    { ngx_string("idle_seconds"), "idle before an idle close", 1 },
};


static ngx_int_t ngx_http_tw_status_args(ngx_http_request_t *r,
    ngx_uint_t *format, ngx_uint_t *period, ngx_str_t *error);
static ngx_uint_t ngx_http_tw_status_cross_site(ngx_http_request_t *r);
static ngx_int_t ngx_http_tw_status_not_allowed(ngx_http_request_t *r,
    ngx_http_tw_loc_conf_t *twlcf);
static ngx_int_t ngx_http_tw_status_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *text);
static ngx_int_t ngx_http_tw_status_collect(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t format, ngx_uint_t period, ngx_http_tw_report_t *rp,
    ngx_pool_t *pool);
static void ngx_http_tw_status_servers(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t period, ngx_http_tw_report_t *rp);
static ngx_int_t ngx_http_tw_status_keys(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t period, ngx_http_tw_report_t *rp, ngx_pool_t *pool);
static void ngx_http_tw_status_rebase(ngx_http_tw_shctx_t *sh);
static void ngx_http_tw_status_rebase_group(ngx_atomic_t *requests,
    ngx_atomic_t closes[][NGX_HTTP_TW_NCLOSERS],
    ngx_atomic_uint_t *base_requests,
    ngx_atomic_uint_t base[][NGX_HTTP_TW_NCLOSERS]);
static void ngx_http_tw_group_read(ngx_http_tw_report_t *rp,
    ngx_http_tw_server_report_t *sr, ngx_atomic_t *requests,
    ngx_atomic_t closes[][NGX_HTTP_TW_NCLOSERS],
    ngx_atomic_uint_t *base_requests,
    ngx_atomic_uint_t base[][NGX_HTTP_TW_NCLOSERS], ngx_uint_t period,
    ngx_uint_t full);
static u_char *ngx_http_tw_text_group(u_char *p,
    ngx_http_tw_server_report_t *sr);
static u_char *ngx_http_tw_json_group(u_char *p,
    ngx_http_tw_server_report_t *sr, ngx_uint_t all);

static u_char *ngx_http_tw_status_kernel(u_char *p, ngx_atomic_int_t n);
static u_char *ngx_http_tw_hist_quantile(u_char *p, ngx_uint_t hist,
    ngx_http_tw_hist_report_t *h, ngx_uint_t percent);
static u_char *ngx_http_tw_status_kernel_json(u_char *p, ngx_atomic_int_t n);
static time_t ngx_http_tw_status_since(time_t sec, ngx_msec_t msec);
static u_char *ngx_http_tw_json_table(u_char *p,
    ngx_atomic_uint_t *closers, ngx_atomic_uint_t *reasons,
    ngx_atomic_uint_t closes[][NGX_HTTP_TW_NCLOSERS], ngx_uint_t all);
static u_char *ngx_http_tw_status_text(u_char *p, ngx_http_tw_report_t *rp);
static u_char *ngx_http_tw_status_json(u_char *p, ngx_http_tw_report_t *rp);


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


/*
 * the type without its parameters: what gzip_types, charset_types and
 * the like are matched against
 */

static size_t  ngx_http_tw_content_type_lens[] = {
    sizeof("text/plain") - 1,
    sizeof("application/json") - 1,
    sizeof("text/plain") - 1,
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
    ((NGX_HTTP_TW_NREASONS * NGX_HTTP_TW_NCLOSERS                            \
      + NGX_HTTP_TW_NHISTS * NGX_HTTP_TW_NCLOSERS                            \
        * (NGX_HTTP_TW_NBUCKETS + 4)                                         \
      + 64) * 192)


ngx_int_t
ngx_http_tw_status_handler(ngx_http_request_t *r)
{
    size_t                    size;
    u_char                    msg[128];
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_str_t                 error;
    ngx_uint_t                format, period;
    ngx_chain_t               out;
    ngx_http_tw_report_t      rp;
    ngx_http_tw_loc_conf_t   *twlcf;
    ngx_http_tw_main_conf_t  *twmcf;

    twlcf = ngx_http_get_module_loc_conf(r, ngx_http_tw_module);

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && !(twlcf->reset && (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))))
    {
        return ngx_http_tw_status_not_allowed(r, twlcf);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    format = twlcf->format;
    error.data = msg;

    rc = ngx_http_tw_status_args(r, &format, &period, &error);

    if (rc != NGX_OK) {
        return ngx_http_tw_status_error(r, rc, &error);
    }

    if (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE)) {

        if (ngx_http_tw_status_cross_site(r)) {
            ngx_str_set(&error, "a reset from a page of another site is"
                                " refused\n");
            return ngx_http_tw_status_error(r, NGX_HTTP_FORBIDDEN, &error);
        }

        period = NGX_HTTP_TW_RESET;
    }

    twmcf = ngx_http_get_module_main_conf(r, ngx_http_tw_module);

    if (twmcf->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* "tw_status_kernel off": the kernel's counts are not read, nor shown */

    if (twlcf->kernel) {
        ngx_http_tw_timewait_kernel(twmcf->sh, r->connection->log);
    }

    ngx_http_tw_zone_reap(twmcf->sh);

    if (ngx_http_tw_status_collect(twmcf, format, period, &rp, r->pool)
        != NGX_OK
        || ngx_http_tw_advise(r->pool, &rp) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!twlcf->kernel) {
        rp.kernel_listen = NGX_HTTP_TW_KERNEL_OFF;
        rp.kernel_host = NGX_HTTP_TW_KERNEL_OFF;
        rp.kernel_time = 0;
    }

    if (period == NGX_HTTP_TW_RESET) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "tw: counters reset by %V", &r->connection->addr_text);
    }

    size = NGX_HTTP_TW_STATUS_LEN + rp.extra;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_tw_renderers[format](b->last, &rp);

    r->headers_out.content_type = ngx_http_tw_content_types[format];
    r->headers_out.content_type_len = ngx_http_tw_content_type_lens[format];
    r->headers_out.content_type_lowcase = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    /*
     * no If-Match or If-None-Match turns the answer into a 412 or a 304:
     * a reset is done by now, and the figures it ended must reach the
     * client
     */

    r->disable_not_modified = 1;

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


static ngx_int_t
ngx_http_tw_status_not_allowed(ngx_http_request_t *r,
    ngx_http_tw_loc_conf_t *twlcf)
{
    ngx_table_elt_t  *allow;

    allow = ngx_list_push(&r->headers_out.headers);
    if (allow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    allow->hash = 1;
    ngx_str_set(&allow->key, "Allow");

    if (twlcf->reset) {
        ngx_str_set(&allow->value, "GET, HEAD, POST, DELETE");

    } else {
        ngx_str_set(&allow->value, "GET, HEAD");
    }

    return NGX_HTTP_NOT_ALLOWED;
}


/*
 * A browser sends a form's POST to any site without asking it first: a
 * reset that a page of another site made the browser send says so in
 * Sec-Fetch-Site, which decides where it is sent; in the browsers that
 * do not send it, in an Origin other than the address the request was
 * sent to (an opaque origin, "null", included).  Clients that are not
 * browsers send neither.
 */

static ngx_uint_t
ngx_http_tw_status_cross_site(ngx_http_request_t *r)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         host;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *origin;

    origin = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-Fetch-Site") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Site",
                               sizeof("Sec-Fetch-Site") - 1) == 0)
        {
            return !((h[i].value.len == sizeof("same-origin") - 1
                      && ngx_strncasecmp(h[i].value.data,
                                         (u_char *) "same-origin",
                                         sizeof("same-origin") - 1) == 0)
                     || (h[i].value.len == sizeof("none") - 1
                         && ngx_strncasecmp(h[i].value.data,
                                            (u_char *) "none",
                                            sizeof("none") - 1) == 0));
        }

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1) == 0)
        {
            if (origin != NULL) {
                /* two: not a browser's */
                return 1;
            }

            origin = &h[i];
        }
    }

    if (origin == NULL) {
        return 0;
    }

    /* "scheme://host[:port]", against the Host header, or :authority */

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

    } else if (r->host_start && r->host_end) {
        host.data = r->host_start;
        host.len = r->host_end - r->host_start;

    } else {
        return 1;
    }

    p = ngx_strlcasestrn(origin->value.data,
                         origin->value.data + origin->value.len,
                         (u_char *) "://", 3 - 1);

    if (p == NULL) {
        return 1;
    }

    p += 3;
    len = origin->value.data + origin->value.len - p;

    return (len != host.len || ngx_strncasecmp(p, host.data, len) != 0);
}


/*
 * ?format= (the location's default comes in "format") and ?since=;
 * "error" points to 128 bytes for the reason of a refusal
 */

static ngx_int_t
ngx_http_tw_status_args(ngx_http_request_t *r, ngx_uint_t *format,
    ngx_uint_t *period, ngx_str_t *error)
{
    u_char           *p, *last;
    ngx_str_t         value, hint;
    ngx_uint_t        i;
    ngx_conf_enum_t  *f;

    *period = NGX_HTTP_TW_SINCE_START;

    if (ngx_http_arg(r, (u_char *) "since", 5, &value) == NGX_OK) {

        if (value.len == 5 && ngx_strncmp(value.data, "reset", 5) == 0) {
            *period = NGX_HTTP_TW_SINCE_RESET;

        } else if (value.len != 5
                   || ngx_strncmp(value.data, "start", 5) != 0)
        {
            ngx_str_set(&hint, "unknown \"since\", use \"start\" or \"reset\"");
            goto unknown;
        }
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK) {

        for (f = ngx_http_tw_status_formats; f->name.len; f++) {
            if (value.len == f->name.len
                && ngx_strncmp(value.data, f->name.data, value.len) == 0)
            {
                break;
            }
        }

        if (f->name.len == 0) {
            ngx_str_set(&hint, "unknown format, use \"text\", \"json\" or"
                               " \"prometheus\"");
            goto unknown;
        }

        *format = f->value;
    }

    if (*format == NGX_HTTP_TW_FORMAT_PROMETHEUS
        && (*period == NGX_HTTP_TW_SINCE_RESET
            || (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))))
    {
        ngx_str_set(&hint, "Prometheus counters never go back: since=reset"
                           " and resets are for text and json");
        error->len = ngx_sprintf(error->data, "%V\n", &hint) - error->data;
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;

unknown:

    /* the hint, then the value as sent, printable bytes only */

    p = ngx_sprintf(error->data, "%V: \"", &hint);
    last = error->data + 128 - 3;

    for (i = 0; i < value.len && p < last; i++) {
        *p++ = (value.data[i] >= 0x20 && value.data[i] < 0x7f
                && value.data[i] != '"') ? value.data[i] : '?';
    }

    *p++ = '"';
    *p++ = LF;

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


/*
 * One consistent snapshot per response.  Since a reset, the sums are read
 * under the zone's mutex, which only status requests take, so that a
 * concurrent reset cannot make a figure go below its baseline.
 */

static ngx_int_t
ngx_http_tw_status_collect(ngx_http_tw_main_conf_t *twmcf, ngx_uint_t format,
    ngx_uint_t period, ngx_http_tw_report_t *rp, ngx_pool_t *pool)
{
    ngx_uint_t               i, r, k;
    ngx_atomic_uint_t        n, open, lost;
    ngx_http_tw_shctx_t     *sh;
    ngx_http_tw_counters_t  *sum, base;

    sh = twmcf->sh;
    sum = &rp->sum;

    ngx_memzero(rp, sizeof(ngx_http_tw_report_t));

    rp->format = format;

    rp->nservers = twmcf->servers.nelts;
    rp->servers = ngx_pcalloc(pool, (rp->nservers + 1)
                                    * sizeof(ngx_http_tw_server_report_t));
    if (rp->servers == NULL) {
        return NGX_ERROR;
    }

    rp->period = period;
    rp->start_time = sh->start_time;
    rp->period_start = sh->start_time;
    rp->start_msec = sh->start_msec;
    rp->period_msec = sh->start_msec;

    if (period == NGX_HTTP_TW_SINCE_START) {
        if (ngx_http_tw_status_keys(twmcf, period, rp, pool) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_tw_status_servers(twmcf, period, rp);
        rp->lost = sh->lost;
        ngx_http_tw_zone_read(sh, sum);
        ngx_memzero(&base, sizeof(ngx_http_tw_counters_t));
        lost = rp->lost;

    } else {
        ngx_http_tw_zone_lock(twmcf->shpool, pool->log);

        /*
         * A reset reports the period it ends as a "since reset" reading
         * does: the groups first, then the totals, so that no group's
         * figure is above the total's.  The groups' new baselines are
         * taken after the totals', for the same order in the new period.
         * The keys first: a failed allocation moves no baseline.
         */

        if (ngx_http_tw_status_keys(twmcf, NGX_HTTP_TW_SINCE_RESET, rp, pool)
            != NGX_OK)
        {
            ngx_shmtx_unlock(&twmcf->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_http_tw_status_servers(twmcf, NGX_HTTP_TW_SINCE_RESET, rp);
        rp->lost = sh->lost;
        ngx_http_tw_zone_read(sh, sum);

        base = sh->baseline;
        lost = rp->lost - sh->base_lost;

        if (period == NGX_HTTP_TW_RESET) {
            sh->base_lost = rp->lost;
        }

        if (sh->reset_time) {
            rp->period_start = sh->reset_time;
            rp->period_msec = sh->reset_msec;
            rp->after_reset = 1;
        }

        if (period == NGX_HTTP_TW_RESET) {
            sh->baseline = *sum;
            sh->reset_time = ngx_time();
            sh->reset_msec = ngx_current_msec;
            sh->resets++;

            ngx_http_tw_status_rebase(sh);
        }

        ngx_shmtx_unlock(&twmcf->shpool->mutex);
    }

    rp->resets = sh->resets;
    rp->generation = sh->generation;

    /* open is a gauge: the connections open now, in any period */

    open = sum->accepted - sum->excluded - rp->lost;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            open -= sum->closes[r][k];

            n = sum->closes[r][k] - base.closes[r][k];
            rp->closes[r][k] = n;

            rp->reasons[r] += n;
            rp->closers[k] += n;
            rp->closed += n;
        }
    }

    sum->accepted -= base.accepted;
    sum->excluded -= base.excluded;
    sum->requests -= base.requests;

    for (r = 0; r < NGX_HTTP_TW_NHISTS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            for (i = 0; i < NGX_HTTP_TW_NBUCKETS; i++) {
                rp->hist[r][k].buckets[i] = sum->hist[r][k].buckets[i]
                                            - base.hist[r][k].buckets[i];
            }

            rp->hist[r][k].sum = sum->hist[r][k].sum - base.hist[r][k].sum;
            rp->hist[r][k].count = sum->hist[r][k].count
                                   - base.hist[r][k].count;
        }
    }

    /* connections whose server has "tw off" are not reported */

    /*
     * a connection accepted before a reset may be excluded after it: the
     * period's figure then stops at zero
     */

    /* free pages of the slab pool; small allocations share pages */

    rp->zone_size = twmcf->shm_zone->shm.size;
    rp->zone_free = twmcf->shpool->pfree * ngx_pagesize;

    rp->accepted = (sum->accepted > sum->excluded)
                   ? sum->accepted - sum->excluded : 0;
    rp->open = open;
    rp->lost = lost;

    /* TIME_WAIT now, whatever the period */

    rp->time_wait = ngx_http_tw_timewait_read(sh, rp->time_waits);
    rp->kernel_listen = sh->kernel_listen;
    rp->kernel_host = sh->kernel_host;
    rp->kernel_time = sh->kernel_time;

    return NGX_OK;
}


/* the servers' figures; since a reset, under the zone's mutex */

static void
ngx_http_tw_status_servers(ngx_http_tw_main_conf_t *twmcf, ngx_uint_t period,
    ngx_http_tw_report_t *rp)
{
    ngx_uint_t                    i, n;
    ngx_http_tw_block_t          *b;
    ngx_http_tw_srv_conf_t      **twscfp;
    ngx_http_tw_server_report_t  *sr;

    twscfp = twmcf->servers.elts;
    n = 0;

    for (i = 0; i < twmcf->servers.nelts; i++) {
        sr = &rp->servers[n];
        b = twscfp[i]->block;

        sr->name = twscfp[i]->name;
        sr->listen = twscfp[i]->listen;

        if (b == NULL) {
            /* no room in the zone: counted in the totals only */
            continue;
        }

        if (twscfp[i]->dup) {
            /* shown with the first server of the same label */
            continue;
        }

        n++;
        sr->conf = twscfp[i];
        sr->time_wait = ngx_http_tw_timewait_server(b);

        ngx_http_tw_group_read(rp, sr, &b->requests, b->closes,
                               &b->base_requests, b->base, period, 1);
    }

    rp->nservers = n;
}


/*
 * A reset's new baselines of the groups, under the zone's mutex: every
 * server's block, those of servers a reload removed too (a reload may
 * bring them back), every tw_key value stored so far, and the overflow.
 */

static void
ngx_http_tw_status_rebase(ngx_http_tw_shctx_t *sh)
{
    ngx_uint_t            i;
    ngx_http_tw_key_t    *k;
    ngx_http_tw_block_t  *b;

    for (b = sh->blocks; b; b = b->next) {
        ngx_http_tw_status_rebase_group(&b->requests, b->closes,
                                        &b->base_requests, b->base);
    }

    for (i = 0; i < NGX_HTTP_TW_KEY_BUCKETS; i++) {
        for (k = sh->keys[i]; k; k = k->next) {
            ngx_http_tw_status_rebase_group(&k->requests, k->closes,
                                            &k->base_requests, k->base);
        }
    }

    k = &sh->overflow;

    ngx_http_tw_status_rebase_group(&k->requests, k->closes,
                                    &k->base_requests, k->base);
}


static void
ngx_http_tw_status_rebase_group(ngx_atomic_t *requests,
    ngx_atomic_t closes[][NGX_HTTP_TW_NCLOSERS],
    ngx_atomic_uint_t *base_requests,
    ngx_atomic_uint_t base[][NGX_HTTP_TW_NCLOSERS])
{
    ngx_uint_t  r, k;

    *base_requests = *requests;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            base[r][k] = closes[r][k];
        }
    }
}


/*
 * The tw_key values, then the overflow.  The bucket heads are copied
 * first: a value is only ever added at the head of its bucket, so the
 * lists from the copies hold every value stored at that moment and no
 * other, however many are added meanwhile.  Each entry of rp->keys is
 * filled in whole, not zeroed first.
 */

static ngx_int_t
ngx_http_tw_status_keys(ngx_http_tw_main_conf_t *twmcf, ngx_uint_t period,
    ngx_http_tw_report_t *rp, ngx_pool_t *pool)
{
    ngx_uint_t                    i, n;
    ngx_http_tw_key_t            *k, *o, **heads;
    ngx_http_tw_server_report_t  *sr;

    heads = ngx_palloc(pool,
                       NGX_HTTP_TW_KEY_BUCKETS * sizeof(ngx_http_tw_key_t *));
    if (heads == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < NGX_HTTP_TW_KEY_BUCKETS; i++) {
        heads[i] = twmcf->sh->keys[i];

        for (k = heads[i]; k; k = k->next) {
            n++;
        }
    }

    rp->keys = ngx_palloc(pool, (n + 1) * sizeof(ngx_http_tw_server_report_t));
    if (rp->keys == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < NGX_HTTP_TW_KEY_BUCKETS; i++) {
        for (k = heads[i]; k; k = k->next) {
            sr = &rp->keys[n++];
            sr->name = k->value;
            ngx_str_null(&sr->listen);
            sr->time_wait = 0;
            sr->conf = NULL;

            ngx_http_tw_group_read(rp, sr, &k->requests, k->closes,
                                   &k->base_requests, k->base, period, 0);
        }
    }

    rp->nkeys = n;

    o = &twmcf->sh->overflow;
    ngx_str_set(&rp->overflow.name, "overflow");

    ngx_http_tw_group_read(rp, &rp->overflow, &o->requests, o->closes,
                           &o->base_requests, o->base, period, 0);

    return NGX_OK;
}


/*
 * One group's figures (a server, a key value), less the baseline since a
 * reset, and the room its output takes: a fixed part, and per cell that
 * is not zero a line with the group's labels, escaped.
 */

static void
ngx_http_tw_group_read(ngx_http_tw_report_t *rp,
    ngx_http_tw_server_report_t *sr, ngx_atomic_t *requests,
    ngx_atomic_t closes[][NGX_HTTP_TW_NCLOSERS],
    ngx_atomic_uint_t *base_requests,
    ngx_atomic_uint_t base[][NGX_HTTP_TW_NCLOSERS], ngx_uint_t period,
    ngx_uint_t full)
{
    size_t              labels;
    ngx_uint_t          r, k, cells;
    ngx_atomic_uint_t   closed, closers[NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t  *row;

    sr->requests = *requests;

    if (period != NGX_HTTP_TW_SINCE_START) {
        sr->requests -= *base_requests;
    }

    /*
     * Run for every key value: the shared cells are copied, each read
     * once, and the sums are made on the copy, a row (a reason, one cell
     * per closer) at a time
     */

#if (NGX_HTTP_TW_NCLOSERS != 4)
#error "ngx_http_tw_group_read() reads four closers a row"
#endif

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        row = sr->closes[r];

        row[0] = closes[r][0];
        row[1] = closes[r][1];
        row[2] = closes[r][2];
        row[3] = closes[r][3];
    }

    if (period != NGX_HTTP_TW_SINCE_START) {
        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                sr->closes[r][k] -= base[r][k];
            }
        }
    }

    cells = 0;
    ngx_memzero(closers, sizeof(closers));

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        row = sr->closes[r];

        closers[0] += row[0];
        closers[1] += row[1];
        closers[2] += row[2];
        closers[3] += row[3];

        sr->reasons[r] = row[0] + row[1] + row[2] + row[3];

        /* cells size the output: counted exactly, most rows are zero */

        if (row[0] | row[1] | row[2] | row[3]) {
            cells += (row[0] != 0) + (row[1] != 0) + (row[2] != 0)
                     + (row[3] != 0);
        }
    }

    closed = 0;

    for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
        sr->closers[k] = closers[k];
        closed += closers[k];
    }

    sr->closed = closed;

    /*
     * The group's output at most, every number at its widest (N): the
     * name and the listen address, escaped as the format escapes them,
     * and per cell a line
     */

    switch (rp->format) {

    case NGX_HTTP_TW_FORMAT_TEXT:
        labels = sr->name.len + sr->listen.len
                 + ngx_escape_json(NULL, sr->name.data, sr->name.len)
                 + ngx_escape_json(NULL, sr->listen.data, sr->listen.len);

        /* a header and a totals line, then 44 + max(N, 12) per cell */

        rp->extra += 128 + 8 * NGX_ATOMIC_T_LEN + labels + cells * 64;
        break;

    case NGX_HTTP_TW_FORMAT_JSON:
        labels = sr->name.len + sr->listen.len
                 + ngx_escape_json(NULL, sr->name.data, sr->name.len)
                 + ngx_escape_json(NULL, sr->listen.data, sr->listen.len);

        /*
         * 140 + 7 N and the names, then a server lists every reason, a
         * key value only those it has, each at most 192 bytes
         */

        rp->extra += 160 + 8 * NGX_ATOMIC_T_LEN + labels
                     + (full ? NGX_HTTP_TW_NREASONS
                             : ngx_min(cells, NGX_HTTP_TW_NREASONS)) * 192;
        break;

    default: /* NGX_HTTP_TW_FORMAT_PROMETHEUS */
        labels = sr->name.len + sr->listen.len
                 + ngx_http_tw_escape_label_len(&sr->name)
                 + ngx_http_tw_escape_label_len(&sr->listen);

        /* requests and TIME_WAIT, then a series per cell */

        rp->extra += (cells + 2) * (128 + NGX_ATOMIC_T_LEN + labels);
        break;
    }
}


/* a histogram value: a count, or milliseconds shown as seconds */

u_char *
ngx_http_tw_hist_value(u_char *p, ngx_uint_t hist, ngx_atomic_uint_t v)
{
    if (!ngx_http_tw_hists[hist].ms) {
        return ngx_sprintf(p, "%uA", v);
    }

    return ngx_sprintf(p, "%uA.%03uA", v / 1000, v % 1000);
}


/* the bucket a quantile falls in, as "<= bound" or "> last bound" */

static u_char *
ngx_http_tw_hist_quantile(u_char *p, ngx_uint_t hist,
    ngx_http_tw_hist_report_t *h, ngx_uint_t percent)
{
    ngx_uint_t         b;
    ngx_atomic_uint_t  n, want;

    want = (h->count > NGX_HTTP_TW_MAX_PERCENT_OF)
           ? h->count / 100 * percent
           : (h->count * percent + 99) / 100;
    n = 0;

    for (b = 0; b < NGX_HTTP_TW_NBUCKETS - 1; b++) {
        n += h->buckets[b];

        if (n >= want) {
            p = ngx_cpymem(p, "<= ", 3);
            p = ngx_http_tw_hist_value(p, hist,
                                       ngx_http_tw_hist_bounds[hist][b]);
            return ngx_http_tw_hists[hist].ms ? ngx_cpymem(p, " s", 2) : p;
        }
    }

    b = NGX_HTTP_TW_NBUCKETS - 2;

    p = ngx_cpymem(p, "> ", 2);
    p = ngx_http_tw_hist_value(p, hist, ngx_http_tw_hist_bounds[hist][b]);

    return ngx_http_tw_hists[hist].ms ? ngx_cpymem(p, " s", 2) : p;
}


/* a kernel count, or "unknown" where the kernel could not be asked */

static u_char *
ngx_http_tw_status_kernel(u_char *p, ngx_atomic_int_t n)
{
    if (n < 0) {
        return ngx_cpymem(p, "unknown", sizeof("unknown") - 1);
    }

    return ngx_sprintf(p, "%A", n);
}


static u_char *
ngx_http_tw_status_kernel_json(u_char *p, ngx_atomic_int_t n)
{
    if (n < 0) {
        return ngx_cpymem(p, "null", sizeof("null") - 1);
    }

    return ngx_sprintf(p, "%A", n);
}


/*
 * Seconds since a moment the zone recorded, by nginx's monotonic clock,
 * which a step of the wall clock does not move; by the wall clock where
 * the milliseconds wrap (32 bits, every 49.7 days).  Another worker may
 * have recorded it with a cached time a little ahead of this one's.
 */

static time_t
ngx_http_tw_status_since(time_t sec, ngx_msec_t msec)
{
    ngx_msec_int_t  ms;

    if (sizeof(ngx_msec_t) < 8) {
        return ngx_max(ngx_time() - sec, 0);
    }

    ms = (ngx_msec_int_t) (ngx_current_msec - msec);

    return (ms > 0) ? (time_t) (ms / 1000) : 0;
}


static u_char *
ngx_http_tw_status_text(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_str_t                    *name;
    ngx_http_tw_advice_t         *a;
    ngx_uint_t                    i, r, k;
    ngx_http_tw_hist_report_t    *h;
    ngx_http_tw_server_report_t  *sr;

    p = ngx_sprintf(p, "ngx_tw %s, nginx %s\n",
                    NGX_HTTP_TW_VERSION, NGINX_VERSION);

    p = ngx_sprintf(p, "uptime: %T s, reloads: %uA\n",
                    ngx_http_tw_status_since(rp->start_time, rp->start_msec),
                    rp->generation);

    if (rp->period == NGX_HTTP_TW_SINCE_START) {
        p = ngx_sprintf(p, "period: since start, resets: %uA\n",
                        rp->resets);

    } else {
        p = ngx_sprintf(p, "period: since %s, %T s, resets: %uA\n",
                        rp->after_reset ? "the last reset" : "start",
                        ngx_http_tw_status_since(rp->period_start,
                                                 rp->period_msec),
                        rp->resets);
    }

    p = ngx_sprintf(p, "connections: accepted %uA, open %uA, closed %uA, "
                    "requests %uA\n",
                    rp->accepted, rp->open, rp->closed, rp->sum.requests);

    if (rp->lost) {
        p = ngx_sprintf(p, "lost: %uA connections of worker processes that"
                        " died\n", rp->lost);
    }

    p = ngx_sprintf(p, "first FIN: server %uA, client %uA; "
                    "reset: by server %uA, by client %uA\n\n",
                    rp->closers[NGX_HTTP_TW_SERVER],
                    rp->closers[NGX_HTTP_TW_CLIENT],
                    rp->closers[NGX_HTTP_TW_SERVER_RESET],
                    rp->closers[NGX_HTTP_TW_CLIENT_RESET]);

    p = ngx_sprintf(p, "TIME_WAIT now: estimate %uA (nginx's FIN closes of"
                    " the last %d s); kernel: ",
                    rp->time_wait, NGX_HTTP_TW_WINDOW);

    if (rp->kernel_listen == NGX_HTTP_TW_KERNEL_OFF) {
        p = ngx_cpymem(p, "not read (tw_status_kernel off)\n",
                       sizeof("not read (tw_status_kernel off)\n") - 1);

    } else {
        p = ngx_http_tw_status_kernel(p, rp->kernel_listen);
        p = ngx_cpymem(p, " on nginx's ports, ",
                       sizeof(" on nginx's ports, ") - 1);
        p = ngx_http_tw_status_kernel(p, rp->kernel_host);
        p = ngx_cpymem(p, " on this host\n", sizeof(" on this host\n") - 1);
    }

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        if (rp->time_waits[r]) {
            name = &ngx_http_tw_reason_names[r];
            p = ngx_sprintf(p, "    %V", name);
            p = ngx_cpymem(p, "                          ", 26 - name->len);
            p = ngx_sprintf(p, "%12uA\n", rp->time_waits[r]);
        }
    }

    a = rp->advice->elts;

    if (rp->advice->nelts) {
        p = ngx_cpymem(p, "advice:\n", sizeof("advice:\n") - 1);
    }

    for (i = 0; i < rp->advice->nelts; i++) {
        p = ngx_sprintf(p, "  - %V\n", &a[i].text);
    }

    *p++ = LF;

    p = ngx_cpymem(p, NGX_HTTP_TW_TEXT_HEADER,
                   sizeof(NGX_HTTP_TW_TEXT_HEADER) - 1);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        name = &ngx_http_tw_reason_names[r];

        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_cpymem(p, "                          ", 26 - name->len);

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            p = ngx_sprintf(p, " %12uA", rp->closes[r][k]);
        }

        *p++ = LF;
    }

    /* the distributions that have values: count and quantiles */

    for (i = 0; i < NGX_HTTP_TW_NHISTS; i++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            h = &rp->hist[i][k];

            if (h->count == 0) {
                continue;
            }

            p = ngx_sprintf(p, "\n%s, %V first: %uA; median ",
                            ngx_http_tw_hists[i].text,
                            &ngx_http_tw_closer_names[k], h->count);
            p = ngx_http_tw_hist_quantile(p, i, h, 50);
            p = ngx_cpymem(p, ", p90 ", sizeof(", p90 ") - 1);
            p = ngx_http_tw_hist_quantile(p, i, h, 90);
            p = ngx_cpymem(p, ", p99 ", sizeof(", p99 ") - 1);
            p = ngx_http_tw_hist_quantile(p, i, h, 99);
        }
    }

    *p++ = LF;

    /* each server, each key value: its totals, then its cells */

    for (i = 0; i < rp->nservers; i++) {
        sr = &rp->servers[i];

        p = ngx_cpymem(p, "\nserver \"", sizeof("\nserver \"") - 1);
        p = (u_char *) ngx_escape_json(p, sr->name.data, sr->name.len);
        p = ngx_cpymem(p, "\" ", sizeof("\" ") - 1);
        p = (u_char *) ngx_escape_json(p, sr->listen.data, sr->listen.len);
        p = ngx_sprintf(p, ": TIME_WAIT now %uA; ", sr->time_wait);
        p = ngx_http_tw_text_group(p, sr);
    }

    for (i = 0; i < rp->nkeys; i++) {
        sr = &rp->keys[i];

        p = ngx_cpymem(p, "\nkey \"", sizeof("\nkey \"") - 1);
        p = (u_char *) ngx_escape_json(p, sr->name.data, sr->name.len);
        p = ngx_cpymem(p, "\": ", 3);
        p = ngx_http_tw_text_group(p, sr);
    }

    if (rp->overflow.requests || rp->overflow.closed) {
        p = ngx_cpymem(p, "\nkey overflow (values past tw_key_max): ",
                       sizeof("\nkey overflow (values past tw_key_max): ")
                       - 1);
        p = ngx_http_tw_text_group(p, &rp->overflow);
    }

    return p;
}


static u_char *
ngx_http_tw_text_group(u_char *p, ngx_http_tw_server_report_t *sr)
{
    ngx_str_t   *name;
    ngx_uint_t   r, k;

    /* there may be thousands of groups: no ngx_sprintf() here */

    p = ngx_cpymem(p, "requests ", sizeof("requests ") - 1);
    p = ngx_http_tw_uint(p, sr->requests);
    p = ngx_cpymem(p, ", closed ", sizeof(", closed ") - 1);
    p = ngx_http_tw_uint(p, sr->closed);
    p = ngx_cpymem(p, "; first FIN: server ",
                   sizeof("; first FIN: server ") - 1);
    p = ngx_http_tw_uint(p, sr->closers[NGX_HTTP_TW_SERVER]);
    p = ngx_cpymem(p, ", client ", sizeof(", client ") - 1);
    p = ngx_http_tw_uint(p, sr->closers[NGX_HTTP_TW_CLIENT]);
    p = ngx_cpymem(p, "; reset: by server ",
                   sizeof("; reset: by server ") - 1);
    p = ngx_http_tw_uint(p, sr->closers[NGX_HTTP_TW_SERVER_RESET]);
    p = ngx_cpymem(p, ", by client ", sizeof(", by client ") - 1);
    p = ngx_http_tw_uint(p, sr->closers[NGX_HTTP_TW_CLIENT_RESET]);
    *p++ = LF;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {

        if (sr->reasons[r] == 0) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            if (sr->closes[r][k] == 0) {
                continue;
            }

            name = &ngx_http_tw_reason_names[r];

            p = ngx_cpymem(p, "    ", 4);
            p = ngx_cpymem(p, name->data, name->len);
            p = ngx_cpymem(p, "                          ", 26 - name->len);

            name = &ngx_http_tw_closer_names[k];

            p = ngx_cpymem(p, name->data, name->len);
            p = ngx_cpymem(p, "             ", 13 - name->len);
            p = ngx_http_tw_uint_pad(p, sr->closes[r][k], 12);
            *p++ = LF;
        }
    }

    return p;
}


static u_char *
ngx_http_tw_status_json(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_uint_t                    i, r, k, b;
    ngx_http_tw_advice_t         *a;
    ngx_http_tw_hist_report_t    *h;
    ngx_http_tw_server_report_t  *sr;

    p = ngx_sprintf(p, "{\"schema\":%d,\"version\":\"%s\","
                    "\"nginx_version\":\"%s\",\"start_time\":%T,"
                    "\"current_time\":%T,\"generation\":%uA,\n",
                    NGX_HTTP_TW_SCHEMA, NGX_HTTP_TW_VERSION, NGINX_VERSION,
                    rp->start_time, ngx_time(), rp->generation);

    p = ngx_sprintf(p, "\"zone\":{\"size\":%uz,\"free\":%uz},\n",
                    rp->zone_size, rp->zone_free);

    p = ngx_sprintf(p, "\"period\":\"%s\",\"period_start\":%T,"
                    "\"resets\":%uA,\n",
                    rp->period == NGX_HTTP_TW_SINCE_START ? "start" : "reset",
                    rp->period_start, rp->resets);

    p = ngx_sprintf(p, "\"connections\":{\"accepted\":%uA,\"open\":%uA,"
                    "\"closed\":%uA,\"excluded\":%uA,\"lost\":%uA},"
                    "\"requests\":%uA,\n",
                    rp->accepted, rp->open, rp->closed, rp->sum.excluded,
                    rp->lost, rp->sum.requests);

    p = ngx_http_tw_json_table(p, rp->closers, rp->reasons, rp->closes, 1);

    p = ngx_sprintf(p, ",\n\"time_wait\":{\"window\":%d,\"estimate\":%uA,"
                    "\"kernel\":{\"listen\":",
                    NGX_HTTP_TW_WINDOW, rp->time_wait);
    p = ngx_http_tw_status_kernel_json(p, rp->kernel_listen);
    p = ngx_cpymem(p, ",\"host\":", sizeof(",\"host\":") - 1);
    p = ngx_http_tw_status_kernel_json(p, rp->kernel_host);
    p = ngx_sprintf(p, ",\"time\":%uA},\"reasons\":{", rp->kernel_time);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        p = ngx_sprintf(p, "%s\"%V\":%uA", r ? "," : "",
                        &ngx_http_tw_reason_names[r], rp->time_waits[r]);
    }

    p = ngx_cpymem(p, "}}", 2);

    /* each histogram: the bucket bounds, then by closer (not cumulative) */

    p = ngx_cpymem(p, ",\n\"histograms\":{", sizeof(",\n\"histograms\":{") - 1);

    for (i = 0; i < NGX_HTTP_TW_NHISTS; i++) {
        p = ngx_sprintf(p, "%s\"%V\":{\"le\":[", i ? ",\n" : "",
                        &ngx_http_tw_hists[i].name);

        for (b = 0; b < NGX_HTTP_TW_NBUCKETS - 1; b++) {
            if (b) {
                *p++ = ',';
            }

            p = ngx_http_tw_hist_value(p, i, ngx_http_tw_hist_bounds[i][b]);
        }

        *p++ = ']';

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            h = &rp->hist[i][k];

            p = ngx_sprintf(p, ",\"%V\":{\"buckets\":[",
                            &ngx_http_tw_closer_names[k]);

            for (b = 0; b < NGX_HTTP_TW_NBUCKETS; b++) {
                p = ngx_sprintf(p, "%s%uA", b ? "," : "", h->buckets[b]);
            }

            p = ngx_cpymem(p, "],\"sum\":", sizeof("],\"sum\":") - 1);
            p = ngx_http_tw_hist_value(p, i, h->sum);
            p = ngx_sprintf(p, ",\"count\":%uA}", h->count);
        }

        *p++ = '}';
    }

    *p++ = '}';

    p = ngx_cpymem(p, ",\n\"advice\":[", sizeof(",\n\"advice\":[") - 1);

    a = rp->advice->elts;

    for (i = 0; i < rp->advice->nelts; i++) {
        p = ngx_sprintf(p, "%s{\"rule\":\"%V\",\"subject\":\"",
                        i ? ",\n" : "\n", &a[i].rule);
        p = (u_char *) ngx_escape_json(p, a[i].subject.data,
                                       a[i].subject.len);
        p = ngx_sprintf(p, "\",\"share\":%ui,\"text\":\"", a[i].share);
        p = (u_char *) ngx_escape_json(p, a[i].text.data, a[i].text.len);
        p = ngx_cpymem(p, "\"}", 2);
    }

    *p++ = ']';

    p = ngx_cpymem(p, ",\n\"servers\":[", sizeof(",\n\"servers\":[") - 1);

    for (i = 0; i < rp->nservers; i++) {
        sr = &rp->servers[i];

        p = ngx_cpymem(p, i ? ",\n{\"name\":\"" : "\n{\"name\":\"",
                       i ? sizeof(",\n{\"name\":\"") - 1
                         : sizeof("\n{\"name\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, sr->name.data, sr->name.len);
        p = ngx_cpymem(p, "\",\"listen\":\"", sizeof("\",\"listen\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, sr->listen.data, sr->listen.len);

        p = ngx_sprintf(p, "\",\"time_wait\":%uA,", sr->time_wait);
        p = ngx_http_tw_json_group(p, sr, 1);
    }

    p = ngx_cpymem(p, "],\n\"keys\":[", sizeof("],\n\"keys\":[") - 1);

    for (i = 0; i < rp->nkeys; i++) {
        sr = &rp->keys[i];

        p = ngx_cpymem(p, i ? ",\n{\"key\":\"" : "\n{\"key\":\"",
                       i ? sizeof(",\n{\"key\":\"") - 1
                         : sizeof("\n{\"key\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, sr->name.data, sr->name.len);
        p = ngx_cpymem(p, "\",", 2);
        p = ngx_http_tw_json_group(p, sr, 0);
    }

    p = ngx_cpymem(p, "],\n\"keys_overflow\":{",
                   sizeof("],\n\"keys_overflow\":{") - 1);
    p = ngx_http_tw_json_group(p, &rp->overflow, 0);

    p = ngx_cpymem(p, "}\n", sizeof("}\n") - 1);

    return p;
}


/*
 * "requests":..,"closed":..,"closers":{..},"reasons":{..}}; a tw_key
 * value lists only the reasons it has, there may be thousands of values
 */

static u_char *
ngx_http_tw_json_group(u_char *p, ngx_http_tw_server_report_t *sr,
    ngx_uint_t all)
{
    p = ngx_cpymem(p, "\"requests\":", sizeof("\"requests\":") - 1);
    p = ngx_http_tw_uint(p, sr->requests);
    p = ngx_cpymem(p, ",\"closed\":", sizeof(",\"closed\":") - 1);
    p = ngx_http_tw_uint(p, sr->closed);
    *p++ = ',';
    *p++ = LF;

    p = ngx_http_tw_json_table(p, sr->closers, sr->reasons, sr->closes,
                               all);

    *p++ = '}';

    return p;
}


/* "closers":{...},"reasons":{...}, for the totals or one server */

static u_char *
ngx_http_tw_json_table(u_char *p, ngx_atomic_uint_t *closers,
    ngx_atomic_uint_t *reasons,
    ngx_atomic_uint_t closes[][NGX_HTTP_TW_NCLOSERS], ngx_uint_t all)
{
    ngx_str_t         *name;
    ngx_uint_t         r, k, n;
    ngx_atomic_uint_t  total;

    p = ngx_cpymem(p, "\"closers\":{", sizeof("\"closers\":{") - 1);

    for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
        name = &ngx_http_tw_closer_names[k];

        if (k) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, name->data, name->len);
        *p++ = '"';
        *p++ = ':';
        p = ngx_http_tw_uint(p, closers[k]);
    }

    p = ngx_cpymem(p, "},\n\"reasons\":{\n", sizeof("},\n\"reasons\":{\n") - 1);

    n = 0;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        total = reasons[r];

        if (total == 0 && !all) {
            continue;
        }

        if (n++) {
            *p++ = ',';
            *p++ = LF;
        }

        name = &ngx_http_tw_reason_names[r];

        *p++ = '"';
        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_cpymem(p, "\":{\"total\":", sizeof("\":{\"total\":") - 1);
        p = ngx_http_tw_uint(p, total);

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            name = &ngx_http_tw_closer_names[k];

            *p++ = ',';
            *p++ = '"';
            p = ngx_cpymem(p, name->data, name->len);
            *p++ = '"';
            *p++ = ':';
            p = ngx_http_tw_uint(p, closes[r][k]);
        }

        *p++ = '}';
    }

    *p++ = '}';

    return p;
}


/* a number in decimal, as "%uA" prints it, a good deal faster */

u_char *
ngx_http_tw_uint(u_char *p, ngx_atomic_uint_t n)
{
    u_char  *d, digits[NGX_ATOMIC_T_LEN];

    d = digits + NGX_ATOMIC_T_LEN;

    do {
        *--d = (u_char) (n % 10 + '0');
        n /= 10;
    } while (n);

    return ngx_cpymem(p, d, digits + NGX_ATOMIC_T_LEN - d);
}


/* the same, right-aligned in "width" columns, as "%12uA" */

u_char *
ngx_http_tw_uint_pad(u_char *p, ngx_atomic_uint_t n, size_t width)
{
    u_char  *e;
    size_t   len;

    e = ngx_http_tw_uint(p, n);
    len = e - p;

    if (len >= width) {
        return e;
    }

    ngx_memmove(p + width - len, p, len);
    ngx_memset(p, ' ', width - len);

    return p + width;
}

