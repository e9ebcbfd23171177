
/*
 * Copyright (C) ngx_tw authors
 */


#ifndef _NGX_HTTP_TW_STATUS_H_INCLUDED_
#define _NGX_HTTP_TW_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


typedef struct {
    ngx_str_t                name;
    ngx_str_t                listen;
    ngx_atomic_uint_t        requests;
    ngx_atomic_uint_t        closed;
    ngx_atomic_uint_t        closers[NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        closes[NGX_HTTP_TW_NREASONS]
                                   [NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        reasons[NGX_HTTP_TW_NREASONS];  /* rows */
    ngx_atomic_uint_t        time_wait;
    ngx_http_tw_srv_conf_t  *conf;       /* servers: the configuration */
} ngx_http_tw_server_report_t;


typedef struct {
    ngx_str_t                rule;
    ngx_str_t                subject;    /* a server, a key, or empty */
    ngx_str_t                name;       /* the subject, escaped as in
                                            JSON, as the text shows it */
    ngx_uint_t               share;      /* percent of nginx's FIN closes */
    ngx_str_t                text;
} ngx_http_tw_advice_t;


typedef struct {
    ngx_atomic_uint_t        buckets[NGX_HTTP_TW_NBUCKETS];
    ngx_atomic_uint_t        sum;
    ngx_atomic_uint_t        count;
} ngx_http_tw_hist_report_t;


typedef struct {
    ngx_str_t                name;      /* JSON and Prometheus */
    char                    *text;      /* the text format */
    ngx_uint_t               ms;        /* kept in ms, shown in seconds */
} ngx_http_tw_hist_name_t;


/* a kernel count not asked for: "tw_status_kernel off" (-1: unknown) */
#define NGX_HTTP_TW_KERNEL_OFF  (-2)


typedef struct {
    ngx_http_tw_counters_t   sum;
    ngx_http_tw_hist_report_t  hist[NGX_HTTP_TW_NHISTS]
                                   [NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        closes[NGX_HTTP_TW_NREASONS]
                                   [NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        closers[NGX_HTTP_TW_NCLOSERS];
    ngx_atomic_uint_t        reasons[NGX_HTTP_TW_NREASONS];
    ngx_atomic_uint_t        closed;
    ngx_atomic_uint_t        accepted;
    ngx_atomic_uint_t        open;
    ngx_atomic_uint_t        lost;
    ngx_atomic_uint_t        generation;
    ngx_atomic_uint_t        resets;
    time_t                   start_time;
    time_t                   period_start;
    ngx_msec_t               start_msec;
    ngx_msec_t               period_msec;
    ngx_uint_t               format;        /* NGX_HTTP_TW_FORMAT_* */
    ngx_uint_t               period;
    ngx_uint_t               after_reset;   /* the period began at a reset */

    ngx_http_tw_server_report_t  *servers;
    ngx_uint_t                    nservers;
    ngx_http_tw_server_report_t  *keys;      /* tw_key values */
    ngx_uint_t                    nkeys;
    ngx_http_tw_server_report_t   overflow;
    size_t                        extra;     /* output for the groups */

    /* TIME_WAIT now */
    ngx_atomic_uint_t             time_wait;
    ngx_atomic_uint_t             time_waits[NGX_HTTP_TW_NREASONS];
    ngx_atomic_int_t              kernel_listen;
    ngx_atomic_int_t              kernel_host;
    ngx_atomic_uint_t             kernel_time;

    ngx_array_t                  *advice;    /* ngx_http_tw_advice_t */

    size_t                        zone_size;
    size_t                        zone_free;
} ngx_http_tw_report_t;


/* which figures a response shows */

#define NGX_HTTP_TW_SINCE_START  0   /* GET: since the counters started */
#define NGX_HTTP_TW_SINCE_RESET  1   /* GET ?since=reset: this period */
#define NGX_HTTP_TW_RESET        2   /* POST, DELETE: end this period */


/* the largest count that can be multiplied by 100 */
#define NGX_HTTP_TW_MAX_PERCENT_OF  ((ngx_atomic_uint_t) -1 / 100)


u_char *ngx_http_tw_status_prometheus(u_char *p, ngx_http_tw_report_t *rp);
size_t ngx_http_tw_escape_label_len(ngx_str_t *s);
ngx_int_t ngx_http_tw_advise(ngx_pool_t *pool, ngx_http_tw_report_t *rp);
u_char *ngx_http_tw_hist_value(u_char *p, ngx_uint_t hist,
    ngx_atomic_uint_t v);
u_char *ngx_http_tw_uint(u_char *p, ngx_atomic_uint_t n);
u_char *ngx_http_tw_uint_pad(u_char *p, ngx_atomic_uint_t n, size_t width);

extern ngx_http_tw_hist_name_t  ngx_http_tw_hists[];


#endif /* _NGX_HTTP_TW_STATUS_H_INCLUDED_ */
