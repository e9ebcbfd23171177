
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * tw_key: closes counted by the value of a user-defined key, e.g. a map
 * of $http_user_agent.  At most tw_key_max values; later ones, and all
 * values once the zone is full, are counted in "overflow".  Finding a
 * value takes no lock; adding a new one takes the zone's mutex, which
 * happens at most tw_key_max times, as requests are logged.  A close only
 * adds to the counters of the value its connection already holds.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


static ngx_int_t ngx_http_tw_key_clean(ngx_pool_t *pool, ngx_str_t *value,
    ngx_uint_t *hash);
static ngx_inline ngx_uint_t ngx_http_tw_key_is(ngx_http_tw_key_t *k,
    ngx_str_t *value);
static size_t ngx_http_tw_utf8_len(u_char *p, u_char *last);
static ngx_http_tw_key_t *ngx_http_tw_key_find(ngx_http_tw_shctx_t *sh,
    ngx_uint_t hash, ngx_str_t *value);
static ngx_http_tw_key_t *ngx_http_tw_key_add(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t hash, ngx_str_t *value, ngx_log_t *log);


/*
 * The entry of the request's value: NULL for an empty value (no key),
 * NGX_HTTP_TW_KEY_ERROR when the value could not be evaluated.  "prev" is
 * the entry of the connection's request before, if any.
 */

ngx_http_tw_key_t *
ngx_http_tw_key_get(ngx_http_request_t *r, ngx_http_tw_key_conf_t *kc,
    ngx_http_tw_key_t *prev)
{
    ngx_str_t                   value;
    ngx_uint_t                  hash;
    ngx_http_tw_key_t          *k;
    ngx_http_tw_shctx_t        *sh;
    ngx_http_tw_main_conf_t    *twmcf;
    ngx_http_variable_value_t  *vv;

    if (kc->index != NGX_ERROR) {

        /*
         * as ngx_http_complex_value() reads a variable, without a copy:
         * a variable that fails is an empty value
         */

        vv = ngx_http_get_flushed_variable(r, kc->index);

        if (vv == NULL || vv->not_found) {
            return NULL;
        }

        value.len = vv->len;
        value.data = vv->data;

    } else if (ngx_http_complex_value(r, &kc->value, &value) != NGX_OK) {
        return NGX_HTTP_TW_KEY_ERROR;
    }

    /* an empty value means "no key" */

    if (value.len == 0) {
        return NULL;
    }

    /*
     * Most requests have the value of the connection's request before,
     * or of the worker's: compared first.  The entries hold values
     * already cleaned, which cleaning leaves alone, and the overflow's
     * is empty.
     */

    if (ngx_http_tw_key_is(prev, &value)) {
        return prev;
    }

    twmcf = ngx_http_get_module_main_conf(r, ngx_http_tw_module);

    k = twmcf->key_last;

    if (k != prev && ngx_http_tw_key_is(k, &value)) {
        return k;
    }

    if (ngx_http_tw_key_clean(r->pool, &value, &hash) != NGX_OK) {
        return NGX_HTTP_TW_KEY_ERROR;
    }

    sh = twmcf->sh;

    k = ngx_http_tw_key_find(sh, hash, &value);

    if (k != NULL) {
        twmcf->key_last = k;
        return k;
    }

    if (sh->nkeys >= (ngx_atomic_uint_t) twmcf->key_max || sh->keys_full) {
        return &sh->overflow;
    }

    return ngx_http_tw_key_add(twmcf, hash, &value, r->connection->log);
}


/* the entry "k", if any, holds "value" */

static ngx_inline ngx_uint_t
ngx_http_tw_key_is(ngx_http_tw_key_t *k, ngx_str_t *value)
{
    return (k != NULL
            && k->value.len == value->len
            && ngx_memcmp(k->value.data, value->data, value->len) == 0);
}


/*
 * A value as it is counted and shown: at most NGX_HTTP_TW_KEY_LEN bytes,
 * cut between characters, and valid UTF-8, every byte that is not part
 * of a valid character replaced with "?", so that every output format
 * can carry it (a JSON or Prometheus reader rejects invalid UTF-8).
 * Most values are short ASCII, left as they are.
 */

static ngx_int_t
ngx_http_tw_key_clean(ngx_pool_t *pool, ngx_str_t *value, ngx_uint_t *hash)
{
    u_char      *p, *last, *dst, *start;
    size_t       n, len;
    ngx_uint_t   h;

    p = value->data;
    last = p + ngx_min(value->len, NGX_HTTP_TW_KEY_LEN);
    h = 0;

    /* ASCII up to where it is cut: hashed as it is looked at */

    while (p < last && *p < 0x80) {
        h = ngx_hash(h, *p);
        p++;
    }

    len = p - value->data;

    if (p == last) {
        value->len = len;
        *hash = h;
        return NGX_OK;
    }

    last = value->data + value->len;

    start = ngx_pnalloc(pool, ngx_min(value->len, NGX_HTTP_TW_KEY_LEN));
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = ngx_cpymem(start, value->data, len);

    while (p < last) {
        n = ngx_http_tw_utf8_len(p, last);

        if (len + (n ? n : 1) > NGX_HTTP_TW_KEY_LEN) {
            break;
        }

        if (n == 0) {
            *dst++ = '?';
            p++;
            len++;
            continue;
        }

        dst = ngx_cpymem(dst, p, n);
        p += n;
        len += n;
    }

    value->data = start;
    value->len = len;

    *hash = ngx_hash_key(start, len);

    return NGX_OK;
}


/* the length of the valid UTF-8 character at p (RFC 3629), or 0 */

static size_t
ngx_http_tw_utf8_len(u_char *p, u_char *last)
{
    u_char  c, lo, hi;
    size_t  n, i;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;                  /* no overlong forms */

        } else if (c == 0xed) {
            hi = 0x9f;                  /* no surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;                  /* nothing above U+10FFFF */
        }

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


/*
 * A server's first name as it is shown and matched: nginx takes any byte
 * in a server_name, and one that is not UTF-8 would make every JSON and
 * Prometheus answer invalid.  Such a byte is written as \xNN, which keeps
 * names that differ in it apart.
 */

ngx_int_t
ngx_http_tw_name_escape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p, *last, *dst, *start;
    size_t   n;

    last = s->data + s->len;

    for (p = s->data; p < last; p += n) {
        n = ngx_http_tw_utf8_len(p, last);

        if (n == 0) {
            break;
        }
    }

    if (p == last) {
        return NGX_OK;
    }

    start = ngx_pnalloc(pool, 4 * s->len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = ngx_cpymem(start, s->data, p - s->data);

    while (p < last) {
        n = ngx_http_tw_utf8_len(p, last);

        if (n == 0) {
            dst = ngx_sprintf(dst, "\\x%02Xd", (int) *p++);
            continue;
        }

        dst = ngx_cpymem(dst, p, n);
        p += n;
    }

    s->data = start;
    s->len = dst - start;

    return NGX_OK;
}


static ngx_http_tw_key_t *
ngx_http_tw_key_find(ngx_http_tw_shctx_t *sh, ngx_uint_t hash,
    ngx_str_t *value)
{
    ngx_http_tw_key_t  *k;

    for (k = sh->keys[hash % NGX_HTTP_TW_KEY_BUCKETS]; k; k = k->next) {
        if (k->hash == hash
            && k->value.len == value->len
            && ngx_memcmp(k->value.data, value->data, value->len) == 0)
        {
            return k;
        }
    }

    return NULL;
}


static ngx_http_tw_key_t *
ngx_http_tw_key_add(ngx_http_tw_main_conf_t *twmcf, ngx_uint_t hash,
    ngx_str_t *value, ngx_log_t *log)
{
    ngx_uint_t            b;
    ngx_slab_pool_t      *shpool;
    ngx_http_tw_key_t    *k;
    ngx_http_tw_shctx_t  *sh;

    sh = twmcf->sh;
    shpool = twmcf->shpool;

    ngx_http_tw_zone_lock(shpool, log);

    /* another worker may have added it meanwhile */

    k = ngx_http_tw_key_find(sh, hash, value);

    if (k != NULL) {
        goto done;
    }

    if (sh->nkeys >= (ngx_atomic_uint_t) twmcf->key_max) {
        k = &sh->overflow;
        goto done;
    }

    k = ngx_slab_calloc_locked(shpool, sizeof(ngx_http_tw_key_t)
                                       + value->len);

    if (k == NULL) {
        k = &sh->overflow;

        if (!sh->keys_full) {
            sh->keys_full = 1;
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "tw zone is full: new tw_key values are counted"
                          " as overflow; increase tw_zone_size");
        }

        goto done;
    }

    k->hash = hash;
    k->value.len = value->len;
    k->value.data = (u_char *) k + sizeof(ngx_http_tw_key_t);
    ngx_memcpy(k->value.data, value->data, value->len);

    b = hash % NGX_HTTP_TW_KEY_BUCKETS;

    k->next = sh->keys[b];

    /* readers see the value whole, or not at all */

    ngx_memory_barrier();

    sh->keys[b] = k;
    sh->nkeys++;

done:

    ngx_shmtx_unlock(&shpool->mutex);

    return k;
}
