
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * The Prometheus text exposition format of the status: counters end in
 * _total, times are in seconds, and no gauge shares a name with a
 * counter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"
#include "ngx_http_tw_status.h"


static u_char *ngx_http_tw_prometheus_groups(u_char *p, ngx_uint_t group,
    ngx_http_tw_server_report_t *sr, ngx_uint_t n);
static u_char *ngx_http_tw_prometheus_labels(u_char *p, ngx_uint_t group,
    ngx_http_tw_server_report_t *sr);
static u_char *ngx_http_tw_escape_label(u_char *p, ngx_str_t *s);


#define NGX_HTTP_TW_GROUP_SERVER    0
#define NGX_HTTP_TW_GROUP_KEY       1
#define NGX_HTTP_TW_GROUP_OVERFLOW  2


static char  *ngx_http_tw_group_names[] = {
    "server", "key", "key_overflow"
};


static char  *ngx_http_tw_group_help[] = {
    "by server",
    "by tw_key value",
    "whose tw_key value found no room"
};


/*
 * The Prometheus text exposition format: counters end in _total, times
 * are in seconds, and no gauge shares a name with a counter.
 */

u_char *
ngx_http_tw_status_prometheus(u_char *p, ngx_http_tw_report_t *rp)
{
    ngx_uint_t                    i, r, k, b;
    ngx_atomic_uint_t             n;
    ngx_http_tw_hist_report_t    *h;
    ngx_http_tw_server_report_t  *sr;

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
            "nginx_tw_reloads_total %uA\n"
            "# HELP nginx_tw_resets_total Resets of the since-reset view"
            " (these counters never go back).\n"
            "# TYPE nginx_tw_resets_total counter\n"
            "nginx_tw_resets_total %uA\n",
            NGX_HTTP_TW_VERSION, NGINX_VERSION, rp->start_time,
            rp->generation, rp->resets);

    p = ngx_sprintf(p,
            "# HELP nginx_tw_connections_accepted_total Client connections"
            " accepted and tracked, those later excluded too.\n"
            "# TYPE nginx_tw_connections_accepted_total counter\n"
            "nginx_tw_connections_accepted_total %uA\n"
            "# HELP nginx_tw_connections_excluded_total Connections that"
            " closed in a server with tw off.\n"
            "# TYPE nginx_tw_connections_excluded_total counter\n"
            "nginx_tw_connections_excluded_total %uA\n"
            "# HELP nginx_tw_connections_lost_total Connections held by"
            " worker processes that died.\n"
            "# TYPE nginx_tw_connections_lost_total counter\n"
            "nginx_tw_connections_lost_total %uA\n"
            "# HELP nginx_tw_connections_open Tracked connections open"
            " now.\n"
            "# TYPE nginx_tw_connections_open gauge\n"
            "nginx_tw_connections_open %uA\n"
            "# HELP nginx_tw_requests_total Requests on tracked"
            " connections.\n"
            "# TYPE nginx_tw_requests_total counter\n"
            "nginx_tw_requests_total %uA\n",
            rp->sum.accepted, rp->sum.excluded, rp->lost, rp->open,
            rp->sum.requests);

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
                            rp->closes[r][k]);
        }
    }

    p = ngx_cpymem(p,
            "# HELP nginx_tw_time_wait_estimate Closes where nginx sent the"
            " first FIN in the last 60 s: its TIME_WAIT sockets now.\n"
            "# TYPE nginx_tw_time_wait_estimate gauge\n",
            sizeof("# HELP nginx_tw_time_wait_estimate Closes where nginx"
                   " sent the first FIN in the last 60 s: its TIME_WAIT"
                   " sockets now.\n"
                   "# TYPE nginx_tw_time_wait_estimate gauge\n") - 1);

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        p = ngx_sprintf(p, "nginx_tw_time_wait_estimate{reason=\"%V\"} %uA\n",
                        &ngx_http_tw_reason_names[r], rp->time_waits[r]);
    }

    if (rp->kernel_listen >= 0) {
        p = ngx_sprintf(p,
                "# HELP nginx_tw_kernel_time_wait_listen_sockets TIME_WAIT"
                " sockets on nginx's HTTP ports, by the kernel.\n"
                "# TYPE nginx_tw_kernel_time_wait_listen_sockets gauge\n"
                "nginx_tw_kernel_time_wait_listen_sockets %A\n",
                rp->kernel_listen);
    }

    if (rp->kernel_host >= 0) {
        p = ngx_sprintf(p,
                "# HELP nginx_tw_kernel_time_wait_host_sockets TIME_WAIT"
                " sockets on the host, by the kernel.\n"
                "# TYPE nginx_tw_kernel_time_wait_host_sockets gauge\n"
                "nginx_tw_kernel_time_wait_host_sockets %A\n",
                rp->kernel_host);
    }

    for (i = 0; i < NGX_HTTP_TW_NHISTS; i++) {
        p = ngx_sprintf(p, "# HELP nginx_tw_connection_%V Connections at"
                        " their close, by who closed first: %s.\n"
                        "# TYPE nginx_tw_connection_%V histogram\n",
                        &ngx_http_tw_hists[i].name, ngx_http_tw_hists[i].text,
                        &ngx_http_tw_hists[i].name);

        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            h = &rp->hist[i][k];
            n = 0;

            for (b = 0; b < NGX_HTTP_TW_NBUCKETS; b++) {
                n += h->buckets[b];

                p = ngx_sprintf(p, "nginx_tw_connection_%V_bucket"
                                "{closer=\"%V\",le=\"",
                                &ngx_http_tw_hists[i].name,
                                &ngx_http_tw_closer_names[k]);

                if (b < NGX_HTTP_TW_NBUCKETS - 1) {
                    p = ngx_http_tw_hist_value(p, i,
                                               ngx_http_tw_hist_bounds[i][b]);
                } else {
                    p = ngx_cpymem(p, "+Inf", 4);
                }

                p = ngx_sprintf(p, "\"} %uA\n", n);
            }

            p = ngx_sprintf(p, "nginx_tw_connection_%V_sum{closer=\"%V\"} ",
                            &ngx_http_tw_hists[i].name,
                            &ngx_http_tw_closer_names[k]);
            p = ngx_http_tw_hist_value(p, i, h->sum);
            p = ngx_sprintf(p, "\nnginx_tw_connection_%V_count{closer=\"%V\"}"
                            " %uA\n",
                            &ngx_http_tw_hists[i].name,
                            &ngx_http_tw_closer_names[k], h->count);
        }
    }

    if (rp->nservers == 0) {
        goto keys;
    }

    p = ngx_cpymem(p,
            "# HELP nginx_tw_server_time_wait_estimate TIME_WAIT sockets"
            " now from nginx's FIN closes, by server.\n"
            "# TYPE nginx_tw_server_time_wait_estimate gauge\n",
            sizeof("# HELP nginx_tw_server_time_wait_estimate TIME_WAIT"
                   " sockets now from nginx's FIN closes, by server.\n"
                   "# TYPE nginx_tw_server_time_wait_estimate gauge\n") - 1);

    for (i = 0; i < rp->nservers; i++) {
        sr = &rp->servers[i];

        p = ngx_cpymem(p, "nginx_tw_server_time_wait_estimate{server=\"",
                       sizeof("nginx_tw_server_time_wait_estimate"
                              "{server=\"") - 1);
        p = ngx_http_tw_escape_label(p, &sr->name);
        p = ngx_cpymem(p, "\",listen=\"", sizeof("\",listen=\"") - 1);
        p = ngx_http_tw_escape_label(p, &sr->listen);
        p = ngx_sprintf(p, "\"} %uA\n", sr->time_wait);
    }

    p = ngx_http_tw_prometheus_groups(p, NGX_HTTP_TW_GROUP_SERVER,
                                      rp->servers, rp->nservers);

keys:

    p = ngx_http_tw_prometheus_groups(p, NGX_HTTP_TW_GROUP_KEY,
                                      rp->keys, rp->nkeys);
    p = ngx_http_tw_prometheus_groups(p, NGX_HTTP_TW_GROUP_OVERFLOW,
                                      &rp->overflow, 1);

    return p;
}


/*
 * Two metric families for a list of groups: requests, and the closes by
 * reason and closer that are not zero (series appear as they move).
 */

static u_char *
ngx_http_tw_prometheus_groups(u_char *p, ngx_uint_t group,
    ngx_http_tw_server_report_t *sr, ngx_uint_t n)
{
    char        *name;
    u_char      *e, metric[64];
    size_t       len;
    ngx_str_t   *reason, *closer;
    ngx_uint_t   i, r, k;

    if (n == 0) {
        return p;
    }

    name = ngx_http_tw_group_names[group];

    /* there may be thousands of groups: no ngx_sprintf() per line */

    p = ngx_sprintf(p, "# HELP nginx_tw_%s_requests_total Requests,"
                    " %s.\n"
                    "# TYPE nginx_tw_%s_requests_total counter\n",
                    name, ngx_http_tw_group_help[group], name);

    e = ngx_sprintf(metric, "nginx_tw_%s_requests_total", name);
    len = e - metric;

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, metric, len);
        p = ngx_http_tw_prometheus_labels(p, group, &sr[i]);

        if (group != NGX_HTTP_TW_GROUP_OVERFLOW) {
            *p++ = '}';
        }

        *p++ = ' ';
        p = ngx_http_tw_uint(p, sr[i].requests);
        *p++ = LF;
    }

    p = ngx_sprintf(p, "# HELP nginx_tw_%s_connections_closed_total Closed"
                    " connections %s, by who sent the first FIN and why.\n"
                    "# TYPE nginx_tw_%s_connections_closed_total counter\n",
                    name, ngx_http_tw_group_help[group], name);

    e = ngx_sprintf(metric, "nginx_tw_%s_connections_closed_total", name);
    len = e - metric;

    for (i = 0; i < n; i++) {
        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {

            if (sr[i].reasons[r] == 0) {
                continue;
            }

            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                if (sr[i].closes[r][k] == 0) {
                    continue;
                }

                reason = &ngx_http_tw_reason_names[r];
                closer = &ngx_http_tw_closer_names[k];

                p = ngx_cpymem(p, metric, len);
                p = ngx_http_tw_prometheus_labels(p, group, &sr[i]);
                *p++ = (group == NGX_HTTP_TW_GROUP_OVERFLOW) ? '{' : ',';
                p = ngx_cpymem(p, "reason=\"", sizeof("reason=\"") - 1);
                p = ngx_cpymem(p, reason->data, reason->len);
                p = ngx_cpymem(p, "\",closer=\"", sizeof("\",closer=\"") - 1);
                p = ngx_cpymem(p, closer->data, closer->len);
                *p++ = '"';
                *p++ = '}';
                *p++ = ' ';
                p = ngx_http_tw_uint(p, sr[i].closes[r][k]);
                *p++ = LF;
            }
        }
    }

    return p;
}


/* "{server=..,listen=.." or "{key=.." (open), or nothing for overflow */

static u_char *
ngx_http_tw_prometheus_labels(u_char *p, ngx_uint_t group,
    ngx_http_tw_server_report_t *sr)
{
    switch (group) {

    case NGX_HTTP_TW_GROUP_SERVER:
        p = ngx_cpymem(p, "{server=\"", sizeof("{server=\"") - 1);
        p = ngx_http_tw_escape_label(p, &sr->name);
        p = ngx_cpymem(p, "\",listen=\"", sizeof("\",listen=\"") - 1);
        p = ngx_http_tw_escape_label(p, &sr->listen);
        *p++ = '"';
        break;

    case NGX_HTTP_TW_GROUP_KEY:
        p = ngx_cpymem(p, "{key=\"", sizeof("{key=\"") - 1);
        p = ngx_http_tw_escape_label(p, &sr->name);
        *p++ = '"';
        break;

    default: /* NGX_HTTP_TW_GROUP_OVERFLOW */
        break;
    }

    return p;
}


/* how much longer a label value is once escaped */

size_t
ngx_http_tw_escape_label_len(ngx_str_t *s)
{
    size_t      n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < s->len; i++) {
        switch (s->data[i]) {
        case '\\':
        case '"':
        case '\n':
            n++;
            break;
        default:
            break;
        }
    }

    return n;
}


/* a Prometheus label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_tw_escape_label(u_char *p, ngx_str_t *s)
{
    u_char      ch;
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        ch = s->data[i];

        switch (ch) {
        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = ch;
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        default:
            *p++ = ch;
        }
    }

    return p;
}
