
/*
 * Copyright (C) ngx_tw authors
 */


#ifndef _NGX_HTTP_TW_MODULE_H_INCLUDED_
#define _NGX_HTTP_TW_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_classify.h"


#define NGX_HTTP_TW_VERSION       "0.1.0"
#define NGX_HTTP_TW_SCHEMA        1

/* bumped whenever the zone layout changes */
#define NGX_HTTP_TW_MAGIC         0x7477000b

/*
 * Each worker adds to its own block of counters, so that workers do not
 * fight over cache lines; readers add the blocks up.  Worker generations
 * that overlap during a reload share a block, hence the atomics.
 */
#define NGX_HTTP_TW_SLOTS         32


/*
 * Distributions at close, by closer, in fixed buckets (the last one is
 * everything above the last bound): requests on the connection, its
 * lifetime and, for an idle keep-alive connection, how long it had been
 * idle.  Times are kept in milliseconds.
 */

#define NGX_HTTP_TW_HIST_REQUESTS  0
#define NGX_HTTP_TW_HIST_LIFETIME  1
#define NGX_HTTP_TW_HIST_IDLE      2
#define NGX_HTTP_TW_NHISTS         3
#define NGX_HTTP_TW_NBUCKETS       12


typedef struct {
    ngx_atomic_t                buckets[NGX_HTTP_TW_NBUCKETS];
    ngx_atomic_t                sum;
    ngx_atomic_t                count;       /* the buckets, added up by
                                                readers; 0 in the zone */
} ngx_http_tw_hist_t;


typedef struct {
    ngx_atomic_t                accepted;
    ngx_atomic_t                excluded;
    ngx_atomic_t                requests;
    ngx_atomic_t                closes[NGX_HTTP_TW_NREASONS]
                                      [NGX_HTTP_TW_NCLOSERS];
    ngx_http_tw_hist_t          hist[NGX_HTTP_TW_NHISTS]
                                    [NGX_HTTP_TW_NCLOSERS];
} ngx_http_tw_counters_t;


typedef struct {
    ngx_http_tw_counters_t      counters;
    u_char                      pad[128 - sizeof(ngx_http_tw_counters_t)
                                        % 128];
} ngx_http_tw_slot_t;


/*
 * The connections each worker process holds open, so that those of a
 * worker that died (SIGKILL, a crash) are reported as lost, not dropped.
 */

#define NGX_HTTP_TW_PROCS         256

/* an entry being reaped holds this bit and the reaper's pid */
#define NGX_HTTP_TW_PROC_REAPING  ((ngx_atomic_uint_t) 1 << 31)

/* the entries in 128 bytes: a worker starts its search at its own */
#define NGX_HTTP_TW_PROCS_LINE    (128 / sizeof(ngx_http_tw_proc_t))


typedef struct {
    ngx_atomic_t                pid;          /* 0: a free entry */
    ngx_atomic_t                open;
} ngx_http_tw_proc_t;


/*
 * TIME_WAIT now: the closes where nginx sent the first FIN, of the last
 * 60 seconds (how long Linux keeps a TIME_WAIT socket).  The close
 * counters already count them; before the first such close of a second,
 * their running totals are stored in a ring of samples, one slot per
 * second, and the estimate is the totals now less the earliest sample of
 * the last 60 seconds.
 */

#define NGX_HTTP_TW_RING          64
#define NGX_HTTP_TW_WINDOW        60

/*
 * The samples' seconds: nginx's monotonic clock, as the kernel's
 * TIME_WAIT timers, which a step of the wall clock does not move; plus
 * 1, so that a stamp of 0 is never a second: no sample in the slot, or
 * one being written
 */

#define ngx_http_tw_ring_now()                                                \
    ((ngx_atomic_uint_t) (ngx_current_msec / 1000 + 1))


/* the totals right after the stamp: ngx_http_tw_ring_base() reads both */

typedef struct {
    ngx_atomic_t                stamp;       /* the second sampled, or 0 */
    ngx_atomic_t                fin[NGX_HTTP_TW_NREASONS];
} ngx_http_tw_sample_t;


typedef struct {
    ngx_atomic_t                stamp;
    ngx_atomic_t                fin;         /* all reasons */
} ngx_http_tw_server_sample_t;


/*
 * One per server{} with "tw on", in the zone, found again by its label
 * (first server_name, first listen address) at every reload.
 */

typedef struct ngx_http_tw_block_s  ngx_http_tw_block_t;

struct ngx_http_tw_block_s {
    ngx_http_tw_block_t        *next;
    ngx_str_t                   name;
    ngx_str_t                   listen;
    ngx_atomic_t                requests;
    ngx_atomic_t                closes[NGX_HTTP_TW_NREASONS]
                                      [NGX_HTTP_TW_NCLOSERS];

    ngx_http_tw_server_sample_t ring[NGX_HTTP_TW_RING];

    /* at the last reset, under shpool->mutex */
    ngx_atomic_uint_t           base_requests;
    ngx_atomic_uint_t           base[NGX_HTTP_TW_NREASONS]
                                    [NGX_HTTP_TW_NCLOSERS];
};


/*
 * One per distinct value of "tw_key", in the zone.  Readers walk the
 * index without a lock; a new value is linked in under shpool->mutex,
 * fully written before it is published.
 */

typedef struct ngx_http_tw_key_s  ngx_http_tw_key_t;

struct ngx_http_tw_key_s {
    ngx_http_tw_key_t *volatile next;
    ngx_uint_t                  hash;
    ngx_str_t                   value;
    ngx_atomic_t                requests;
    ngx_atomic_t                closes[NGX_HTTP_TW_NREASONS]
                                      [NGX_HTTP_TW_NCLOSERS];

    /* at the last reset, under shpool->mutex */
    ngx_atomic_uint_t           base_requests;
    ngx_atomic_uint_t           base[NGX_HTTP_TW_NREASONS]
                                    [NGX_HTTP_TW_NCLOSERS];
};

#define NGX_HTTP_TW_KEY_BUCKETS   1024
#define NGX_HTTP_TW_KEY_LEN       256

/* ngx_http_tw_key_get(): the value could not be evaluated */
#define NGX_HTTP_TW_KEY_ERROR     ((ngx_http_tw_key_t *) -1)


/*
 * The slab allocator gives this page-aligned memory, so with the slots
 * first each one starts on its own 128-byte boundary, and so do the
 * lines of the process entries after them.
 */

typedef struct {
    ngx_http_tw_slot_t          slots[NGX_HTTP_TW_SLOTS];
    ngx_http_tw_proc_t          procs[NGX_HTTP_TW_PROCS];

    ngx_uint_t                  magic;
    time_t                      start_time;
    ngx_msec_t                  start_msec;   /* nginx's monotonic clock */
    ngx_atomic_t                generation;

    /* the sums at the last reset (POST or DELETE), under shpool->mutex */
    ngx_http_tw_counters_t      baseline;
    time_t                      reset_time;
    ngx_msec_t                  reset_msec;
    ngx_atomic_t                resets;

    ngx_http_tw_block_t        *blocks;
    ngx_uint_t                  full;         /* "zone is full" logged */

    ngx_http_tw_sample_t        ring[NGX_HTTP_TW_RING];
    ngx_atomic_t                sampled;     /* the last second sampled */
    ngx_atomic_t                nslots;      /* the slots that may have
                                                counted: those at or
                                                above it never have */

    /* tw_key: the index, how many values it holds, and the rest */
    ngx_http_tw_key_t *volatile keys[NGX_HTTP_TW_KEY_BUCKETS];
    ngx_atomic_t                nkeys;
    ngx_uint_t                  keys_full;    /* error logged */
    ngx_http_tw_key_t           overflow;

    ngx_atomic_t                lost;
    ngx_atomic_uint_t           base_lost;    /* at the last reset */

    /* the kernel's counts, read at most once a second */
    ngx_atomic_t                kernel_lock;  /* its holder's pid, or 0 */
    ngx_atomic_t                kernel_time;
    ngx_atomic_int_t            kernel_listen;    /* -1: unknown */
    ngx_atomic_int_t            kernel_host;

    u_char                      log_ctx[32];  /* " in tw zone ..." */
} ngx_http_tw_shctx_t;


/* tw_key */

typedef struct {
    ngx_http_complex_value_t    value;
    ngx_int_t                   index;       /* the variable, when the value
                                                is one alone; else -1 */
    ngx_uint_t                  connection;  /* once per connection */
} ngx_http_tw_key_conf_t;


/* a variable that a tw_key names, and where: checked once all are known */

typedef struct {
    ngx_str_t                   name;
    u_char                     *file;
    ngx_uint_t                  line;
} ngx_http_tw_key_var_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_http_tw_key_conf_t     *key;         /* tw_key */
    ngx_str_t                   name;        /* first server_name */
    ngx_str_t                   listen;      /* first listen address */
    ngx_http_tw_block_t        *block;       /* in the zone */
    ngx_uint_t                  dup;         /* an earlier server has the
                                                same label and block */

    /* the server's own directives, for the advice */
    ngx_http_core_srv_conf_t   *cscf;
    ngx_http_core_loc_conf_t   *clcf;
} ngx_http_tw_srv_conf_t;


typedef struct {
    ngx_http_tw_shctx_t        *sh;
    ngx_slab_pool_t            *shpool;
    ngx_shm_zone_t             *shm_zone;
    ngx_uint_t                  reused;      /* the last cycle's zone */
    size_t                      zone_size;   /* tw_zone_size */
    ngx_int_t                   key_max;     /* tw_key_max */
    ngx_http_tw_key_t          *key_last;    /* the worker's last value
                                                looked up */
    ngx_array_t                 servers;     /* ngx_http_tw_srv_conf_t * */
    ngx_array_t                 key_vars;    /* ngx_http_tw_key_var_t */
} ngx_http_tw_main_conf_t;


#define NGX_HTTP_TW_FORMAT_TEXT        0
#define NGX_HTTP_TW_FORMAT_JSON        1
#define NGX_HTTP_TW_FORMAT_PROMETHEUS  2


typedef struct {
    ngx_uint_t                  format;      /* tw_status_format */
    ngx_flag_t                  reset;       /* tw_status_reset */
    ngx_flag_t                  kernel;      /* tw_status_kernel */
    u_char                     *status_file; /* where tw_status is, to */
    ngx_uint_t                  status_line; /* report a conflict */
} ngx_http_tw_loc_conf_t;


/*
 * One per connection slot of the worker (ngx_cycle->connections), for the
 * client connection that holds the slot: no allocation per connection.
 */

typedef struct {
    ngx_connection_t           *connection;  /* NULL: not watched */
    ngx_atomic_uint_t           number;      /* c->number */
    ngx_http_tw_srv_conf_t     *srv;         /* where the close is counted;
                                                NULL: the listener's with
                                                one address, else none */
    ngx_http_tw_key_t          *key;         /* of the last request */
    ngx_http_tw_key_conf_t     *key_conf;    /* "tw_key ... connection":
                                                key is its value */
    ngx_msec_t                  idle_since;  /* last request ended */
#if (nginx_version >= 1027004)
    ngx_msec_t                  keepalive;   /* keepalive_timeout, when
                                                keepalive_min_timeout
                                                comes first; else 0 */
#endif
    ngx_http_tw_snapshot_t      snap;
    u_char                      state;
    u_char                      http2;
    u_char                      stream_reset;
    u_char                      ssl;         /* accepted on "listen ssl" */
} ngx_http_tw_conn_t;


/* ngx_http_tw_zone.c */
ngx_int_t ngx_http_tw_zone_add(ngx_conf_t *cf,
    ngx_http_tw_main_conf_t *twmcf);
void ngx_http_tw_zone_init_module(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t workers);
void ngx_http_tw_zone_slots(ngx_http_tw_shctx_t *sh, ngx_uint_t n);
void ngx_http_tw_zone_init_process(ngx_http_tw_main_conf_t *twmcf);
void ngx_http_tw_zone_exit_process(void);
void ngx_http_tw_zone_reap(ngx_http_tw_shctx_t *sh);
void ngx_http_tw_zone_lock(ngx_slab_pool_t *shpool, ngx_log_t *log);
ngx_uint_t ngx_http_tw_pid_gone(ngx_pid_t pid);
void ngx_http_tw_zone_read(ngx_http_tw_shctx_t *sh,
    ngx_http_tw_counters_t *sum);

extern ngx_atomic_uint_t  ngx_http_tw_hist_bounds[NGX_HTTP_TW_NHISTS]
                                                 [NGX_HTTP_TW_NBUCKETS - 1];

/* ngx_http_tw_close.c */
ngx_int_t ngx_http_tw_close_init_process(ngx_cycle_t *cycle,
    ngx_http_tw_main_conf_t *twmcf);
void ngx_http_tw_close_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_tw_log_handler(ngx_http_request_t *r);
void ngx_http_tw_close_init_filter(void);
void ngx_http_tw_probe(ngx_connection_t *c, ngx_http_tw_conn_t *ctx,
    ngx_http_tw_snapshot_t *s);
void ngx_http_tw_request_snapshot(ngx_http_request_t *r,
    ngx_http_tw_snapshot_t *s);
ngx_uint_t ngx_http_tw_listen_ports(ngx_cycle_t *cycle, u_char *ports);

extern ngx_http_tw_counters_t  *ngx_http_tw_counters;
extern ngx_http_tw_shctx_t     *ngx_http_tw_sh;
extern ngx_http_tw_proc_t      *ngx_http_tw_proc;
extern ngx_http_tw_conn_t      *ngx_http_tw_conns;
extern ngx_uint_t               ngx_http_tw_nconns;


/*
 * A lingering close over TLS whose close_notify, written before nginx's
 * shutdown(), failed on a socket the client had reset, and took the
 * RST's error: OpenSSL still waits to write it, the shutdown() failed
 * too, and no FIN left (a write that would block ends in nginx's
 * shutdown handler, and a later success, instead).  OpenSSL's state is
 * that of its last write: it tells only when SSL_shutdown() did write,
 * not in a quiet shutdown (after nginx's shutdown timed out), nor
 * during a handshake, when nginx calls no SSL_shutdown().  Apart from
 * the snapshot, which stays without a call of its own: a function that
 * calls none costs less to enter, at every request that closes.
 */

static ngx_inline void
ngx_http_tw_tls_unsent(ngx_connection_t *c, ngx_http_tw_snapshot_t *s)
{
#if (NGX_HTTP_SSL)
    if (s->shut_wr
        && c->ssl
        && SSL_want_write(c->ssl->connection)
        && !SSL_get_quiet_shutdown(c->ssl->connection)
        && !SSL_in_init(c->ssl->connection))
    {
        s->shut_wr = 0;
    }
#endif
}


/* the context of a watched client connection, or NULL */

static ngx_inline ngx_http_tw_conn_t *
ngx_http_tw_lookup(ngx_connection_t *c)
{
    ngx_uint_t           i;
    ngx_http_tw_conn_t  *ctx;

    /* an HTTP/2 stream's connection is not in the array: i is out of range */

    i = ((uintptr_t) c - (uintptr_t) ngx_cycle->connections)
        / sizeof(ngx_connection_t);

    if (i >= ngx_http_tw_nconns) {
        return NULL;
    }

    ctx = &ngx_http_tw_conns[i];

    if (ctx->connection != c || ctx->number != c->number) {
        return NULL;
    }

    return ctx;
}


/*
 * Completes a snapshot with the connection's flags and classifies it;
 * s->phase is set, and in the request phase the flags nginx had when the
 * request was logged are already in.  Inline, with the classifier, so
 * that the caller keeps the results in registers.
 */

static ngx_http_tw_inline void
ngx_http_tw_decide(ngx_connection_t *c, ngx_http_tw_snapshot_t *s,
    ngx_uint_t *closer, ngx_uint_t *reason)
{
    ngx_uint_t    eof, error, timedout, cclose, cerror, ctimedout;
    ngx_event_t  *rev;

    /*
     * each word's flags read before any is written: a byte written could
     * be any of them, for the compiler, which would read the word again
     */

    rev = c->read;

    if (ngx_http_tw_likely(!rev->eof && !rev->error && !rev->timedout
                           && !ngx_exiting && !ngx_terminate))
    {
        /* the common way: the 4 bytes from read_eof to exiting at once */

        ngx_memzero(&s->read_eof, 4);

    } else {
        eof = rev->eof;
        error = rev->error;
        timedout = rev->timedout;

        s->read_eof = (u_char) eof;
        s->read_error = (u_char) error;
        s->read_timedout = (u_char) timedout;
        s->exiting = (ngx_exiting || ngx_terminate);
    }

    if (s->phase != NGX_HTTP_TW_PHASE_REQUEST) {
        cclose = c->close;
        cerror = c->error;
        ctimedout = c->timedout;

        s->write_timedout = c->write->timedout;
        s->conn_close = (u_char) cclose;
        s->conn_error = (u_char) cerror;
        s->conn_timedout = (u_char) ctimedout;

    } /* else as the log phase saw them, before a delayed TLS shutdown */

    *closer = ngx_http_tw_closer_get(s);
    *reason = ngx_http_tw_reason_get(s, *closer);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "tw: close phase:%ui tcp:%ui closer:%V reason:%V",
                   s->phase, s->tcp_state,
                   &ngx_http_tw_closer_names[*closer],
                   &ngx_http_tw_reason_names[*reason]);
}


/* ngx_http_tw_timewait.c */
ngx_atomic_uint_t ngx_http_tw_timewait_read(ngx_http_tw_shctx_t *sh,
    ngx_atomic_uint_t *reasons);
ngx_atomic_uint_t ngx_http_tw_timewait_server(ngx_http_tw_block_t *b);
void ngx_http_tw_timewait_kernel(ngx_http_tw_shctx_t *sh, ngx_log_t *log);
void ngx_http_tw_timewait_sample(ngx_http_tw_shctx_t *sh);
void ngx_http_tw_timewait_block(ngx_http_tw_block_t *b);

/* the second of this worker's last sample */
extern ngx_atomic_uint_t  ngx_http_tw_second;

/* ngx_http_tw_keys.c */
ngx_http_tw_key_t *ngx_http_tw_key_get(ngx_http_request_t *r,
    ngx_http_tw_key_conf_t *kc, ngx_http_tw_key_t *prev);
ngx_int_t ngx_http_tw_name_escape(ngx_pool_t *pool, ngx_str_t *s);

/* ngx_http_tw_variables.c */
ngx_int_t ngx_http_tw_add_variables(ngx_conf_t *cf);

/* ngx_http_tw_status.c */
ngx_int_t ngx_http_tw_status_handler(ngx_http_request_t *r);

extern ngx_conf_enum_t  ngx_http_tw_status_formats[];


extern ngx_module_t  ngx_http_tw_module;


#endif /* _NGX_HTTP_TW_MODULE_H_INCLUDED_ */
