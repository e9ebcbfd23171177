
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Advice: what the counters of the period shown say about the directives.
 * Each rule looks at the closes where nginx sent the first FIN, that is at
 * the TIME_WAIT sockets nginx causes, and speaks once a reason passes its
 * share of them, given at least NGX_HTTP_TW_ADVICE_MIN such closes.  The
 * rules are listed, with the reasoning, in docs/advice.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"
#include "ngx_http_tw_status.h"


#define NGX_HTTP_TW_ADVICE_MIN   20
#define NGX_HTTP_TW_ADVICE_LEN   512


typedef struct {
    ngx_str_t    rule;
    ngx_uint_t   reason;
    ngx_uint_t   share;       /* percent that makes the rule speak */
    char        *text;        /* what it says, after the share */
} ngx_http_tw_rule_t;


static ngx_int_t ngx_http_tw_advice_server(ngx_pool_t *pool,
    ngx_http_tw_report_t *rp, ngx_http_tw_server_report_t *sr);
static ngx_int_t ngx_http_tw_advice_totals(ngx_pool_t *pool,
    ngx_http_tw_report_t *rp);
static ngx_http_tw_advice_t *ngx_http_tw_advice_add(ngx_pool_t *pool,
    ngx_http_tw_report_t *rp, char *rule, ngx_str_t *subject,
    ngx_uint_t share);
static ngx_uint_t ngx_http_tw_share(ngx_atomic_uint_t n,
    ngx_atomic_uint_t of);


/* the rules about one server's keep-alive directives */

static ngx_http_tw_rule_t  ngx_http_tw_server_rules[] = {
    { ngx_string("keepalive_requests"), NGX_HTTP_TW_KEEPALIVE_REQUESTS, 20,
      NULL },
    { ngx_string("keepalive_timeout"), NGX_HTTP_TW_KEEPALIVE_TIMEOUT, 30,
      NULL },
    { ngx_string("keepalive_disabled"), NGX_HTTP_TW_KEEPALIVE_DISABLED, 10,
      NULL },
    { ngx_string("keepalive_time"), NGX_HTTP_TW_KEEPALIVE_TIME, 20, NULL },
    { ngx_string("no_request_timeout"), NGX_HTTP_TW_NO_REQUEST_TIMEOUT, 30,
      NULL },
    { ngx_null_string, 0, 0, NULL }
};


/* the rules about all of nginx's closes, whatever the server */

static ngx_http_tw_rule_t  ngx_http_tw_total_rules[] = {

    { ngx_string("client_close"), NGX_HTTP_TW_CLIENT_CLOSE, 30,
      "come from clients that send Connection: close; tw_key can tell"
      " which" },

    { ngx_string("http10"), NGX_HTTP_TW_HTTP10, 20,
      "come from HTTP/1.0 clients without keep-alive (load testers, old"
      " proxies): have them use HTTP/1.1" },

    { ngx_string("error_response"), NGX_HTTP_TW_ERROR_RESPONSE, 10,
      "follow responses that close the connection (400, 413, 414, 494,"
      " 500, 501, no length): find them in the access log" },

    { ngx_null_string, 0, 0, NULL }
};


ngx_int_t
ngx_http_tw_advise(ngx_pool_t *pool, ngx_http_tw_report_t *rp)
{
    ngx_uint_t  i;

    rp->advice = ngx_array_create(pool, 4, sizeof(ngx_http_tw_advice_t));
    if (rp->advice == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < rp->nservers; i++) {
        if (ngx_http_tw_advice_server(pool, rp, &rp->servers[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_tw_advice_totals(pool, rp);
}


static ngx_int_t
ngx_http_tw_advice_server(ngx_pool_t *pool, ngx_http_tw_report_t *rp,
    ngx_http_tw_server_report_t *sr)
{
    u_char                    *p;
    ngx_uint_t                 share, timeouts;
    ngx_atomic_uint_t          fin;
    ngx_http_tw_rule_t        *rule;
    ngx_http_tw_advice_t      *a;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_core_srv_conf_t  *cscf;

    fin = sr->closers[NGX_HTTP_TW_SERVER];

    if (fin < NGX_HTTP_TW_ADVICE_MIN || sr->conf == NULL) {
        return NGX_OK;
    }

    clcf = sr->conf->clcf;
    cscf = sr->conf->cscf;

    for (rule = ngx_http_tw_server_rules; rule->rule.len; rule++) {

        share = ngx_http_tw_share(
                       sr->closes[rule->reason][NGX_HTTP_TW_SERVER], fin);

        if (share < rule->share) {
            continue;
        }

        a = ngx_http_tw_advice_add(pool, rp, (char *) rule->rule.data,
                                   &sr->name, share);
        if (a == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(a->text.data, "%ui%% of nginx's closes on \"%V\" are"
                        " %V", share, &a->name, &rule->rule);

        switch (rule->reason) {

        case NGX_HTTP_TW_KEEPALIVE_REQUESTS:
            p = ngx_sprintf(p, ": connections served their %ui requests"
                            " (keepalive_requests) and nginx closed them;"
                            " raise keepalive_requests",
                            clcf->keepalive_requests);
            break;

        case NGX_HTTP_TW_KEEPALIVE_TIMEOUT:
            p = ngx_sprintf(p, ": idle connections reach keepalive_timeout"
                            " (%M ms) and nginx closes them; a longer"
                            " keepalive_timeout lets clients close first",
                            clcf->keepalive_timeout);
            break;

        case NGX_HTTP_TW_KEEPALIVE_DISABLED:
            p = ngx_sprintf(p, ": keepalive_timeout 0 closes every"
                            " connection after one request; enable"
                            " keep-alive");
            break;

        case NGX_HTTP_TW_KEEPALIVE_TIME:
            p = ngx_sprintf(p, " (limit %M ms): raise keepalive_time",
                            clcf->keepalive_time);
            break;

        default: /* NGX_HTTP_TW_NO_REQUEST_TIMEOUT */
            p = ngx_sprintf(p, ": connections that never send a request"
                            " (browser preconnects, port probes) reach"
                            " client_header_timeout (%M ms) and nginx"
                            " closes them; a longer client_header_timeout"
                            " lets such clients close first",
                            cscf->client_header_timeout);
            break;
        }

        a->text.len = p - a->text.data;
    }

    /* timeouts and 444 end with a FIN unless reset_timedout_connection */

    timeouts = sr->closes[NGX_HTTP_TW_HEADER_TIMEOUT][NGX_HTTP_TW_SERVER]
               + sr->closes[NGX_HTTP_TW_BODY_TIMEOUT][NGX_HTTP_TW_SERVER]
               + sr->closes[NGX_HTTP_TW_SEND_TIMEOUT][NGX_HTTP_TW_SERVER]
               + sr->closes[NGX_HTTP_TW_CLOSED_BY_CONFIG][NGX_HTTP_TW_SERVER];

    share = ngx_http_tw_share(timeouts, fin);

    if (share >= 10 && !clcf->reset_timedout_connection) {

        a = ngx_http_tw_advice_add(pool, rp, "reset_timedout_connection",
                                   &sr->name, share);
        if (a == NULL) {
            return NGX_ERROR;
        }

        a->text.len = ngx_sprintf(a->text.data, "%ui%% of nginx's closes on"
                                  " \"%V\" are timeouts or return 444 that"
                                  " end with a FIN: reset_timedout_connection"
                                  " on ends them with an RST, without"
                                  " TIME_WAIT", share, &a->name)
                      - a->text.data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tw_advice_totals(ngx_pool_t *pool, ngx_http_tw_report_t *rp)
{
    ngx_str_t              none = ngx_null_string;
    ngx_uint_t             i, share, keys;
    ngx_atomic_uint_t      fin;
    ngx_http_tw_rule_t    *rule;
    ngx_http_tw_advice_t  *a;

    /* worker_connections running out is worth a word at any share */

    if (rp->reasons[NGX_HTTP_TW_DRAIN]) {
        a = ngx_http_tw_advice_add(pool, rp, "drain", &none, 0);
        if (a == NULL) {
            return NGX_ERROR;
        }

        a->text.len = ngx_sprintf(a->text.data, "worker_connections ran out:"
                                  " nginx closed %uA connections to"
                                  " accept new ones; raise"
                                  " worker_connections",
                                  rp->reasons[NGX_HTTP_TW_DRAIN])
                      - a->text.data;
    }

    fin = rp->closers[NGX_HTTP_TW_SERVER];

    if (fin < NGX_HTTP_TW_ADVICE_MIN) {
        return NGX_OK;
    }

    /* a tw_key value whose clients say "Connection: close" */

    keys = 0;

    for (i = 0; i < rp->nkeys; i++) {
        share = ngx_http_tw_share(
                    rp->keys[i].closes[NGX_HTTP_TW_CLIENT_CLOSE]
                                      [NGX_HTTP_TW_SERVER], fin);

        if (share < 20) {
            continue;
        }

        a = ngx_http_tw_advice_add(pool, rp, "key_client_close",
                                   &rp->keys[i].name, share);
        if (a == NULL) {
            return NGX_ERROR;
        }

        a->text.len = ngx_sprintf(a->text.data, "key \"%V\" sends"
                                  " Connection: close in %ui%% of nginx's"
                                  " closes: let it keep its connections,"
                                  " or close them itself",
                                  &a->name, share)
                      - a->text.data;
        keys++;
    }

    /* the rules about all of nginx's closes */

    for (rule = ngx_http_tw_total_rules; rule->rule.len; rule++) {

        share = ngx_http_tw_share(
                       rp->closes[rule->reason][NGX_HTTP_TW_SERVER], fin);

        if (share < rule->share
            || (rule->reason == NGX_HTTP_TW_CLIENT_CLOSE && keys))
        {
            /* a key already named the clients that send the header */
            continue;
        }

        a = ngx_http_tw_advice_add(pool, rp, (char *) rule->rule.data,
                                   &none, share);
        if (a == NULL) {
            return NGX_ERROR;
        }

        a->text.len = ngx_sprintf(a->text.data, "%ui%% of nginx's closes %s",
                                  share, rule->text)
                      - a->text.data;
    }

    return NGX_OK;
}


static ngx_http_tw_advice_t *
ngx_http_tw_advice_add(ngx_pool_t *pool, ngx_http_tw_report_t *rp,
    char *rule, ngx_str_t *subject, ngx_uint_t share)
{
    size_t                 len;
    ngx_http_tw_advice_t  *a;

    a = ngx_array_push(rp->advice);
    if (a == NULL) {
        return NULL;
    }

    a->rule.data = (u_char *) rule;
    a->rule.len = ngx_strlen(rule);
    a->subject = *subject;
    a->share = share;

    /* a key may hold quotes and control characters: not raw in the text */

    len = subject->len + ngx_escape_json(NULL, subject->data, subject->len);

    a->name.data = ngx_pnalloc(pool, len);
    if (a->name.data == NULL) {
        return NULL;
    }

    a->name.len = (u_char *) ngx_escape_json(a->name.data, subject->data,
                                             subject->len)
                  - a->name.data;

    a->text.data = ngx_pnalloc(pool, NGX_HTTP_TW_ADVICE_LEN + len);
    if (a->text.data == NULL) {
        return NULL;
    }

    a->text.len = 0;

    /* JSON shows the subject escaped, and the text escaped once more */

    rp->extra += 2 * NGX_HTTP_TW_ADVICE_LEN + 3 * len;

    return a;
}


static ngx_uint_t
ngx_http_tw_share(ngx_atomic_uint_t n, ngx_atomic_uint_t of)
{
    if (of == 0) {
        return 0;
    }

    if (n >= of) {
        return 100;
    }

    /* n * 100 might not fit; then "of" is larger still */

    if (n > NGX_HTTP_TW_MAX_PERCENT_OF) {
        return (ngx_uint_t) (n / (of / 100));
    }

    return (ngx_uint_t) (n * 100 / of);
}

