
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


static ngx_int_t ngx_http_tw_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


ngx_http_tw_counters_t  *ngx_http_tw_counters;


static ngx_str_t  ngx_http_tw_zone_name = ngx_string("ngx_http_tw");


ngx_int_t
ngx_http_tw_zone_add(ngx_conf_t *cf, ngx_http_tw_main_conf_t *twmcf)
{
    size_t           size;
    ngx_shm_zone_t  *shm_zone;

    /*
     * the size is fixed: a zone is reused across reloads only while its
     * size stays the same, so a reload never loses the counters
     */

    size = ngx_align(sizeof(ngx_http_tw_shctx_t) + 8 * ngx_pagesize,
                     ngx_pagesize);

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_tw_zone_name, size,
                                     &ngx_http_tw_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_tw_init_zone;
    shm_zone->data = twmcf;

    twmcf->shm_zone = shm_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tw_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tw_main_conf_t  *otwmcf = data;

    ngx_slab_pool_t          *shpool;
    ngx_http_tw_main_conf_t  *twmcf;

    twmcf = shm_zone->data;

    if (otwmcf && otwmcf->sh && otwmcf->sh->magic == NGX_HTTP_TW_MAGIC) {
        twmcf->sh = otwmcf->sh;
        twmcf->shpool = otwmcf->shpool;

        (void) ngx_atomic_fetch_add(&twmcf->sh->generation, 1);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        twmcf->sh = shpool->data;
        twmcf->shpool = shpool;

        return NGX_OK;
    }

    twmcf->shpool = shpool;

    twmcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_tw_shctx_t));
    if (twmcf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = twmcf->sh;

    twmcf->sh->magic = NGX_HTTP_TW_MAGIC;
    twmcf->sh->start_time = ngx_time();

    ngx_sprintf(shpool->log_ctx, " in tw zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


void
ngx_http_tw_zone_init_process(ngx_http_tw_main_conf_t *twmcf)
{
    ngx_http_tw_counters =
                  &twmcf->sh->slots[ngx_worker % NGX_HTTP_TW_SLOTS].counters;
}


/*
 * Adds the workers' blocks up.  The close counters are read before
 * "accepted", so a connection counted as closed is always also counted
 * as accepted, and "open" never goes below zero.
 */

void
ngx_http_tw_zone_read(ngx_http_tw_shctx_t *sh, ngx_http_tw_counters_t *sum)
{
    ngx_uint_t               i, r, k;
    ngx_http_tw_counters_t  *c;

    ngx_memzero(sum, sizeof(ngx_http_tw_counters_t));

    for (i = 0; i < NGX_HTTP_TW_SLOTS; i++) {
        c = &sh->slots[i].counters;

        for (r = 0; r < NGX_HTTP_TW_NREASONS; r++) {
            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                sum->closes[r][k] += c->closes[r][k];
            }
        }

        sum->excluded += c->excluded;
        sum->requests += c->requests;
    }

    ngx_memory_barrier();

    for (i = 0; i < NGX_HTTP_TW_SLOTS; i++) {
        sum->accepted += sh->slots[i].counters.accepted;
    }
}
