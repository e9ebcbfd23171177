
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Unit tests of the tw_status response buffer (ngx_http_tw_status.c):
 * the room reserved before a response is written must hold it.  A zone
 * is filled by hand (servers, key values, every counter at a chosen
 * value) and read as the status handler reads it, in every format, with
 * names at their longest once escaped and numbers at their widest.  The
 * fixed part's room would hide a group that takes more than its share,
 * so servers and key values are also checked alone: the room that more
 * of them add (with the advice they bring) must hold the output they
 * add.  And the seconds since a moment recorded by another worker.
 * Prints TAP; t/17-render.t runs it.  Built with the objects of the test build
 * of nginx ("make unit").
 */


#include "ngx_http_tw_status.c"
#include "tap.h"


typedef struct {
    size_t              size;      /* the room reserved */
    size_t              written;
} ngx_http_tw_unit_out_t;


static void check(ngx_uint_t f, const char *format, u_char fill,
    ngx_uint_t all, ngx_atomic_uint_t v, ngx_str_t *name,
    ngx_str_t *listen);


static ngx_log_t                 ngx_http_tw_unit_log;
static ngx_http_core_srv_conf_t  ngx_http_tw_unit_cscf;
static ngx_http_core_loc_conf_t  ngx_http_tw_unit_clcf;


/* a zone with nservers servers and nkeys key values, every cell at v */

static ngx_http_tw_main_conf_t *
zone(ngx_pool_t *pool, ngx_uint_t nservers, ngx_uint_t nkeys,
    ngx_atomic_uint_t v, ngx_uint_t all, ngx_str_t *name, ngx_str_t *listen)
{
    u_char                   *p;
    ngx_uint_t                i, r, k, b;
    ngx_shm_zone_t           *shm_zone;
    ngx_slab_pool_t          *shpool;
    ngx_http_tw_key_t        *key;
    ngx_http_tw_block_t      *block;
    ngx_http_tw_shctx_t      *sh;
    ngx_http_tw_counters_t   *c;
    ngx_http_tw_srv_conf_t   *srv, **srvp;
    ngx_http_tw_main_conf_t  *twmcf;

    twmcf = ngx_pcalloc(pool, sizeof(ngx_http_tw_main_conf_t));
    sh = ngx_pcalloc(pool, sizeof(ngx_http_tw_shctx_t));
    shm_zone = ngx_pcalloc(pool, sizeof(ngx_shm_zone_t));
    shpool = ngx_pcalloc(pool, sizeof(ngx_slab_pool_t));

    if (twmcf == NULL || sh == NULL || shm_zone == NULL || shpool == NULL
        || ngx_array_init(&twmcf->servers, pool, 4,
                          sizeof(ngx_http_tw_srv_conf_t *))
           != NGX_OK)
    {
        return NULL;
    }

    twmcf->sh = sh;
    twmcf->shpool = shpool;
    twmcf->shm_zone = shm_zone;
    shm_zone->shm.size = (size_t) v;
    shpool->pfree = v;

    sh->start_time = 1;
    sh->generation = v;
    sh->lost = v;
    sh->kernel_listen = (ngx_atomic_int_t) (v >> 1);
    sh->kernel_host = (ngx_atomic_int_t) (v >> 1);
    sh->kernel_time = v;

    c = &sh->slots[0].counters;
    c->accepted = v;
    c->excluded = v;
    c->requests = v;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            c->closes[r][k] = (all || (r == 0 && k == 0)) ? v : 0;
        }
    }

    for (i = 0; i < NGX_HTTP_TW_NHISTS; i++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            for (b = 0; b < NGX_HTTP_TW_NBUCKETS; b++) {
                c->hist[i][k].buckets[b] = v;
            }

            c->hist[i][k].sum = v;
        }
    }

    /*
     * TIME_WAIT now: v for each reason with closes (their total may
     * wrap), from a sample of 0 in the window
     */

    sh->ring[0].stamp = ngx_http_tw_ring_now();

    for (i = 0; i < nservers; i++) {
        srv = ngx_pcalloc(pool, sizeof(ngx_http_tw_srv_conf_t));
        block = ngx_pcalloc(pool, sizeof(ngx_http_tw_block_t));
        srvp = ngx_array_push(&twmcf->servers);

        if (srv == NULL || block == NULL || srvp == NULL) {
            return NULL;
        }

        srv->enable = 1;
        srv->name = *name;
        srv->listen = *listen;
        srv->block = block;
        srv->cscf = &ngx_http_tw_unit_cscf;
        srv->clcf = &ngx_http_tw_unit_clcf;
        *srvp = srv;

        block->name = *name;
        block->listen = *listen;
        block->requests = v;

        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                block->closes[r][k] = c->closes[r][k];
            }
        }

        /* TIME_WAIT now: the sum of its reasons, which may wrap */

        block->ring[0].stamp = sh->ring[0].stamp;
    }

    /* distinct values of the same length: the last bytes count up */

    for (i = 0; i < nkeys; i++) {
        key = ngx_pcalloc(pool, sizeof(ngx_http_tw_key_t) + name->len);
        if (key == NULL) {
            return NULL;
        }

        p = (u_char *) key + sizeof(ngx_http_tw_key_t);
        ngx_memcpy(p, name->data, name->len);

        if (name->len >= 2) {
            p[name->len - 2] = (u_char) ('a' + i / 26);
            p[name->len - 1] = (u_char) ('a' + i % 26);
        }

        key->value.data = p;
        key->value.len = name->len;
        key->requests = v;

        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                key->closes[r][k] = c->closes[r][k];
            }
        }

        key->next = sh->keys[i % NGX_HTTP_TW_KEY_BUCKETS];
        sh->keys[i % NGX_HTTP_TW_KEY_BUCKETS] = key;
    }

    sh->nkeys = nkeys;

    sh->overflow.requests = v;

    for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
        for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
            sh->overflow.closes[r][k] = c->closes[r][k];
        }
    }

    return twmcf;
}


/* a response as the status handler makes it, into a guarded buffer */

static ngx_int_t
render(ngx_uint_t format, ngx_uint_t nservers, ngx_uint_t nkeys,
    ngx_atomic_uint_t v, ngx_uint_t all, ngx_str_t *name, ngx_str_t *listen,
    ngx_http_tw_unit_out_t *out)
{
    u_char                   *buf, *last;
    ngx_int_t                 rc;
    ngx_pool_t               *pool;
    ngx_http_tw_report_t      rp;
    ngx_http_tw_main_conf_t  *twmcf;

    rc = NGX_ERROR;

    pool = ngx_create_pool(16384, &ngx_http_tw_unit_log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    twmcf = zone(pool, nservers, nkeys, v, all, name, listen);

    if (twmcf == NULL
        || ngx_http_tw_status_collect(twmcf, format, NGX_HTTP_TW_SINCE_START,
                                      &rp, pool)
           != NGX_OK
        || ngx_http_tw_advise(pool, &rp) != NGX_OK)
    {
        goto done;
    }

    out->size = NGX_HTTP_TW_STATUS_LEN + rp.extra;

    /* room for twice the room: an overrun is reported, not a crash */

    buf = ngx_alloc(2 * out->size, &ngx_http_tw_unit_log);
    if (buf == NULL) {
        goto done;
    }

    last = ngx_http_tw_renderers[format](buf, &rp);
    out->written = last - buf;

    ngx_free(buf);

    if (out->written > 2 * out->size) {
        /* the guard itself was overrun: the process is not to be trusted */
        printf("Bail out! %zu bytes written into %zu\n",
               out->written, out->size);
        exit(2);
    }

    rc = NGX_OK;

done:

    ngx_destroy_pool(pool);

    return rc;
}


/*
 * The whole response fits, and so does what 8 more servers add, and what
 * 39 more key values add
 */

static void
check(ngx_uint_t f, const char *format, u_char fill, ngx_uint_t all,
    ngx_atomic_uint_t v, ngx_str_t *name, ngx_str_t *listen)
{
    ngx_http_tw_unit_out_t  one, more, fixed, full;

    if (render(f, 0, 0, v, all, name, listen, &fixed) != NGX_OK
        || render(f, 1, 1, v, all, name, listen, &one) != NGX_OK
        || render(f, 9, 1, v, all, name, listen, &more) != NGX_OK
        || render(f, 9, 40, v, all, name, listen, &full) != NGX_OK)
    {
        printf("Bail out! no memory\n");
        exit(2);
    }

    ok(fixed.written <= fixed.size && one.written <= one.size
       && more.written <= more.size && full.written <= full.size
       && more.size - one.size >= more.written - one.written
       && full.size - more.size >= full.written - more.written,
       "%s, names of %uz x%02Xi, %s cells at %uA: room %uz/%uz,"
       " 8 servers %uz/%uz, 39 keys %uz/%uz",
       format, name->len, (ngx_int_t) fill, all ? "all" : "one", v,
       full.written, full.size, more.written - one.written,
       more.size - one.size, full.written - more.written,
       full.size - more.size);
}


int
main(int argc, char **argv)
{
    u_char              names[NGX_HTTP_TW_KEY_LEN];
    u_char              fill[] = { 0x01, '"', '\\', '\n', 'a', 0xff };
    size_t              lens[] = { 0, 1, 21, NGX_HTTP_TW_KEY_LEN };
    ngx_str_t           name, listen;
    ngx_uint_t          f, i, l, all, vi;
    ngx_atomic_uint_t   values[] = { 0, 1, 1000, (ngx_atomic_uint_t) -1 };

    static const char  *formats[] = { "text", "json", "prometheus" };

    /* what is printed before a crash is not lost */
    setvbuf(stdout, NULL, _IONBF, 0);

    ngx_pagesize = 4096;
    ngx_time_init();

    ngx_http_tw_unit_log.log_level = NGX_LOG_EMERG;
    ngx_http_tw_unit_clcf.keepalive_requests = (ngx_uint_t) -1;
    ngx_http_tw_unit_clcf.keepalive_timeout = (ngx_msec_t) -1;
    ngx_http_tw_unit_clcf.keepalive_time = (ngx_msec_t) -1;
    ngx_http_tw_unit_cscf.client_header_timeout = (ngx_msec_t) -1;

    for (f = 0; f < 3; f++) {
        for (i = 0; i < sizeof(fill); i++) {
            for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
                for (all = 0; all < 2; all++) {
                    for (vi = 0; vi < sizeof(values) / sizeof(values[0]);
                         vi++)
                    {
                        ngx_memset(names, fill[i], sizeof(names));

                        name.data = names;
                        name.len = lens[l];
                        listen = name;

                        check(f, formats[f], fill[i], all, values[vi],
                              &name, &listen);
                    }
                }
            }
        }
    }

    /*
     * the uptime and the reset period, by the monotonic clock: a reset
     * recorded by a worker whose cached time was ahead of this one's
     */

    if (sizeof(ngx_msec_t) >= 8) {
        ngx_current_msec = 100000;

        ok(ngx_http_tw_status_since(0, 40000) == 60,
           "since: 60 s by the monotonic clock, whatever the wall clock");
        ok(ngx_http_tw_status_since(0, 100300) == 0,
           "since: a moment 0.3 s ahead is 0 s ago, not 2^64 ms");
    }

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
