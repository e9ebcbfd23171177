
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


static ngx_int_t ngx_http_tw_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_tw_zone_servers(ngx_shm_zone_t *shm_zone,
    ngx_http_tw_main_conf_t *twmcf);
#if (NGX_LINUX)
static ngx_int_t ngx_http_tw_proc_stat(u_char *name, ngx_pid_t *pid,
    u_char *state);
#endif
static ngx_http_tw_block_t *ngx_http_tw_zone_block(ngx_slab_pool_t *shpool,
    ngx_http_tw_shctx_t *sh, ngx_http_tw_srv_conf_t *twscf);


ngx_http_tw_counters_t  *ngx_http_tw_counters;
ngx_http_tw_shctx_t     *ngx_http_tw_sh;
ngx_http_tw_proc_t      *ngx_http_tw_proc;

/* where a worker that found no free entry counts its open connections */
static ngx_http_tw_proc_t  ngx_http_tw_no_proc;


static ngx_str_t  ngx_http_tw_zone_name = ngx_string("ngx_http_tw");


/* the upper bounds of the buckets but the last */

ngx_atomic_uint_t  ngx_http_tw_hist_bounds[NGX_HTTP_TW_NHISTS]
                                          [NGX_HTTP_TW_NBUCKETS - 1] = {

    /* requests per connection */
    { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000 },

    /* lifetime, ms: 10 ms to 1 hour */
    { 10, 100, 500, 1000, 5000, 10000, 30000, 60000, 300000, 600000,
      3600000 },

    /* idle before the close, ms: around the usual keepalive_timeout */
    { 100, 500, 1000, 5000, 10000, 15000, 30000, 60000, 75000, 120000,
      300000 }
};


ngx_int_t
ngx_http_tw_zone_add(ngx_conf_t *cf, ngx_http_tw_main_conf_t *twmcf)
{
    size_t           size;
    ngx_shm_zone_t  *shm_zone;

    /*
     * a zone is reused across reloads while its size stays the same, so
     * a reload that keeps tw_zone_size never loses the counters
     */

    size = ngx_max(twmcf->zone_size,
                   sizeof(ngx_http_tw_shctx_t) + 8 * ngx_pagesize);
    size = ngx_align(size, ngx_pagesize);

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
        twmcf->reused = 1;

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
    twmcf->sh->start_msec = ngx_current_msec;
    twmcf->sh->kernel_listen = -1;
    twmcf->sh->kernel_host = -1;

    /*
     * the slab allocator's messages name the zone; nginx's own modules
     * allocate the text, here it has its room in the header
     */

    ngx_snprintf(twmcf->sh->log_ctx, sizeof(twmcf->sh->log_ctx) - 1,
                 " in tw zone \"%V\"%Z", &shm_zone->shm.name);
    shpool->log_ctx = twmcf->sh->log_ctx;

    /* a full zone is said once, by ngx_http_tw_zone_servers() */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * Once the new configuration can no longer fail (its sockets are open):
 * a reload that fails keeps the zone as it was, its reload uncounted and
 * no server block taken for the configuration that did not start.
 */

void
ngx_http_tw_zone_init_module(ngx_http_tw_main_conf_t *twmcf,
    ngx_uint_t workers)
{
    if (twmcf->reused) {
        (void) ngx_atomic_fetch_add(&twmcf->sh->generation, 1);
    }

    /* the slots of the workers about to start, before any counts */

    ngx_http_tw_zone_slots(twmcf->sh, ngx_min(workers, NGX_HTTP_TW_SLOTS));

    ngx_http_tw_zone_servers(twmcf->shm_zone, twmcf);
}


/*
 * The worker slots that may have counted: at least "n" from now on.  The
 * TIME_WAIT samples add up those only (ngx_http_tw_timewait_sample()).
 * Never lowered: the slots of the workers of an earlier configuration
 * keep their counts.
 */

void
ngx_http_tw_zone_slots(ngx_http_tw_shctx_t *sh, ngx_uint_t n)
{
    ngx_atomic_uint_t  old;

    for ( ;; ) {
        old = sh->nslots;

        if (old >= n || ngx_atomic_cmp_set(&sh->nslots, old, n)) {
            return;
        }
    }
}


/*
 * Gives every server with "tw on" its block: the one it had before the
 * reload if its label is unchanged, or a new one.  Runs in the master
 * before the new configuration's workers start.
 */

static void
ngx_http_tw_zone_servers(ngx_shm_zone_t *shm_zone,
    ngx_http_tw_main_conf_t *twmcf)
{
    ngx_uint_t               i, j;
    ngx_slab_pool_t         *shpool;
    ngx_http_tw_srv_conf_t  **twscfp;

    shpool = twmcf->shpool;
    twscfp = twmcf->servers.elts;

    /*
     * not ngx_shmtx_lock(): a worker that dies holding the mutex while
     * the master reloads stays a zombie until the reload is done (the
     * master takes SIGCHLD only then), and nginx frees its mutexes only
     * when it reaps it
     */

    ngx_http_tw_zone_lock(shpool, shm_zone->shm.log);

    for (i = 0; i < twmcf->servers.nelts; i++) {
        twscfp[i]->block = ngx_http_tw_zone_block(shpool, twmcf->sh,
                                                  twscfp[i]);

        /*
         * servers with the same label (nginx warns of the conflicting
         * server_name) add to one block, which is shown once
         */

        twscfp[i]->dup = 0;

        for (j = 0; twscfp[i]->block && j < i; j++) {
            if (twscfp[j]->block == twscfp[i]->block) {
                twscfp[i]->dup = 1;
                break;
            }
        }

        if (twscfp[i]->block == NULL && !twmcf->sh->full) {
            twmcf->sh->full = 1;
            ngx_log_error(NGX_LOG_ERR, shm_zone->shm.log, 0,
                          "tw zone is full: server \"%V\" on %V, and any"
                          " later one without a block yet, are counted in"
                          " the totals only; increase tw_zone_size",
                          &twscfp[i]->name, &twscfp[i]->listen);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


static ngx_http_tw_block_t *
ngx_http_tw_zone_block(ngx_slab_pool_t *shpool, ngx_http_tw_shctx_t *sh,
    ngx_http_tw_srv_conf_t *twscf)
{
    u_char               *p;
    ngx_http_tw_block_t  *b;

    for (b = sh->blocks; b; b = b->next) {
        if (b->name.len == twscf->name.len
            && b->listen.len == twscf->listen.len
            && ngx_strncmp(b->name.data, twscf->name.data, b->name.len) == 0
            && ngx_strncmp(b->listen.data, twscf->listen.data,
                           b->listen.len) == 0)
        {
            return b;
        }
    }

    b = ngx_slab_calloc_locked(shpool, sizeof(ngx_http_tw_block_t)
                                       + twscf->name.len
                                       + twscf->listen.len);
    if (b == NULL) {
        return NULL;
    }

    p = (u_char *) b + sizeof(ngx_http_tw_block_t);

    b->name.data = p;
    b->name.len = twscf->name.len;
    p = ngx_cpymem(p, twscf->name.data, twscf->name.len);

    b->listen.data = p;
    b->listen.len = twscf->listen.len;
    ngx_memcpy(p, twscf->listen.data, twscf->listen.len);

    ngx_http_tw_timewait_block(b);

    /* workers walk the list without a lock: linked in once whole */

    b->next = sh->blocks;
    ngx_memory_barrier();
    sh->blocks = b;

    return b;
}


void
ngx_http_tw_zone_init_process(ngx_http_tw_main_conf_t *twmcf)
{
    ngx_uint_t           n, home, slot;
    ngx_http_tw_proc_t  *e;

    slot = ngx_worker % NGX_HTTP_TW_SLOTS;

    ngx_http_tw_sh = twmcf->sh;
    ngx_http_tw_counters = &twmcf->sh->slots[slot].counters;

    /*
     * the master counted the slots of the configuration's workers in
     * before it started them (workers starting together could not, in
     * an nginx without atomic operations); this one's again, so that
     * no process counts in a slot the samples leave out
     */

    ngx_http_tw_zone_slots(twmcf->sh, slot + 1);

    /* a worker started in place of one that died: its connections */

    ngx_http_tw_zone_reap(twmcf->sh);

    /*
     * the search starts at the worker's own cache line, so that workers
     * started together do not add to one line at every accept and close
     */

    home = slot * NGX_HTTP_TW_PROCS_LINE;

    for (n = 0; n < NGX_HTTP_TW_PROCS; n++) {
        e = &twmcf->sh->procs[(home + n) % NGX_HTTP_TW_PROCS];

        if (e->pid == 0 && ngx_atomic_cmp_set(&e->pid, 0, ngx_pid)) {
            e->open = 0;
            ngx_http_tw_proc = e;
            return;
        }
    }

    ngx_http_tw_proc = &ngx_http_tw_no_proc;

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "tw: more than %d worker processes at once, if this"
                  " one dies the connections it holds stay in \"open\""
                  " instead of being counted as lost",
                  NGX_HTTP_TW_PROCS);
}


void
ngx_http_tw_zone_exit_process(void)
{
    if (ngx_http_tw_proc != NULL && ngx_http_tw_proc != &ngx_http_tw_no_proc)
    {
        /* every connection was counted by now */
        ngx_http_tw_proc->pid = 0;
    }

    ngx_http_tw_proc = NULL;
}


/*
 * The entries of processes that are gone without exiting through nginx:
 * what they held open is lost.  Each entry is reaped once, by whoever
 * marks it first; the entry of a reaper that died halfway is taken over
 * (only a reaper killed between its two writes below, an instant, takes
 * what it held for that entry with it, which then stays in "open").
 */

void
ngx_http_tw_zone_reap(ngx_http_tw_shctx_t *sh)
{
    ngx_uint_t           i;
    ngx_atomic_uint_t    pid, open;
    ngx_http_tw_proc_t  *e;

    for (i = 0; i < NGX_HTTP_TW_PROCS; i++) {
        e = &sh->procs[i];
        pid = e->pid;

        if (pid == 0) {
            continue;
        }

        if (pid & NGX_HTTP_TW_PROC_REAPING) {

            /*
             * a reaper killed halfway: the entry is taken over, and what
             * it had not yet moved to "lost" is moved now
             */

            if (!ngx_http_tw_pid_gone(
                             (ngx_pid_t) (pid & ~NGX_HTTP_TW_PROC_REAPING)))
            {
                continue;
            }

        } else if (kill((ngx_pid_t) pid, 0) == 0 || ngx_errno != NGX_ESRCH) {
            continue;
        }

        if (!ngx_atomic_cmp_set(&e->pid, pid,
                                NGX_HTTP_TW_PROC_REAPING | ngx_pid))
        {
            continue;
        }

        open = e->open;
        e->open = 0;

        (void) ngx_atomic_fetch_add(&sh->lost, open);

        ngx_memory_barrier();

        e->pid = 0;
    }
}


/*
 * The zone's mutex.  nginx's master frees a mutex whose holder died, but
 * only in the zones of its current configuration, and only once it has
 * reaped the holder: after a reload that changed tw_zone_size, the old
 * workers still finishing their connections would wait for a dead one
 * forever, and while the master reloads it reaps nothing, so it would
 * wait itself, at its init_module.  So the waiter looks at the holder
 * now and then, and frees the mutex of one that is gone, as the master
 * does.  Only the master's init_module, a new tw_key value and a reset
 * take it.
 */

void
ngx_http_tw_zone_lock(ngx_slab_pool_t *shpool, ngx_log_t *log)
{
#if (NGX_HAVE_ATOMIC_OPS)
    ngx_uint_t    n;
    ngx_pid_t     pid;
    ngx_shmtx_t  *mtx;

    mtx = &shpool->mutex;

    for (n = 1; !ngx_shmtx_trylock(mtx); n++) {

        if (n % 1024 == 0) {
            pid = (ngx_pid_t) *mtx->lock;

            if (pid != 0 && ngx_http_tw_pid_gone(pid)
                && ngx_shmtx_force_unlock(mtx, pid))
            {
                ngx_log_error(NGX_LOG_ALERT, log, 0,
                              "tw zone mutex was held by process %P, which"
                              " is gone: freed", pid);
            }
        }

        if (ngx_ncpu > 1 && n % 64) {
            ngx_cpu_pause();

        } else {
            ngx_sched_yield();
        }
    }

#else
    ngx_shmtx_lock(&shpool->mutex);
#endif
}


/*
 * A process that holds a lock of the zone and is gone: no such process,
 * or, on Linux, one that died and waits to be reaped (a zombie, whose
 * pid kill() still finds).
 */

ngx_uint_t
ngx_http_tw_pid_gone(ngx_pid_t pid)
{
#if (NGX_LINUX)
    static ngx_int_t   ours = -1;
    ngx_pid_t          found;
    u_char             state;
    u_char             name[sizeof("/proc/-9223372036854775808/stat")];
#endif

    if (kill(pid, 0) == -1) {
        return (ngx_errno == NGX_ESRCH);
    }

#if (NGX_LINUX)

    /*
     * a /proc of another pid namespace would describe some other
     * process: it is trusted only when it knows this one by its pid
     */

    if (ours == -1) {
        ours = 0;

        if (ngx_http_tw_proc_stat((u_char *) "/proc/self/stat", &found,
                                  &state)
            == NGX_OK
            && found == ngx_getpid())
        {
            ours = 1;
        }
    }

    if (!ours) {
        return 0;
    }

    (void) ngx_sprintf(name, "/proc/%P/stat%Z", pid);

    return (ngx_http_tw_proc_stat(name, &found, &state) == NGX_OK
            && found == pid && state == 'Z');

#else

    return 0;

#endif
}


#if (NGX_LINUX)

/* "pid (name) state ...": the pid and the state */

static ngx_int_t
ngx_http_tw_proc_stat(u_char *name, ngx_pid_t *pid, u_char *state)
{
    u_char    *p, *last;
    ssize_t    n;
    ngx_fd_t   fd;
    u_char     buf[512];

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf));

    (void) ngx_close_file(fd);

    if (n <= 0) {
        return NGX_ERROR;
    }

    p = ngx_strlchr(buf, buf + n, ' ');
    if (p == NULL) {
        return NGX_ERROR;
    }

    *pid = (ngx_pid_t) ngx_atoi(buf, p - buf);

    /* the name may hold any byte, ")" too: the state follows the last */

    last = NULL;

    for (p = buf; p < buf + n; p++) {
        if (*p == ')') {
            last = p;
        }
    }

    if (last == NULL || last + 2 >= buf + n) {
        return NGX_ERROR;
    }

    *state = last[2];

    return NGX_OK;
}

#endif


/*
 * Adds the workers' blocks up.  The close counters are read before
 * "accepted", so a connection counted as closed is always also counted
 * as accepted, and "open" never goes below zero.
 */

void
ngx_http_tw_zone_read(ngx_http_tw_shctx_t *sh, ngx_http_tw_counters_t *sum)
{
    ngx_uint_t               i, r, k, b;
    ngx_atomic_uint_t        n;
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

        for (r = 0; r < NGX_HTTP_TW_NHISTS; r++) {
            for (k = 0; k < NGX_HTTP_TW_NCLOSERS; k++) {
                /* read once: the count is the buckets it has added up */

                for (b = 0; b < NGX_HTTP_TW_NBUCKETS; b++) {
                    n = c->hist[r][k].buckets[b];
                    sum->hist[r][k].buckets[b] += n;
                    sum->hist[r][k].count += n;
                }

                sum->hist[r][k].sum += c->hist[r][k].sum;
            }
        }
    }

    ngx_memory_barrier();

    for (i = 0; i < NGX_HTTP_TW_SLOTS; i++) {
        sum->accepted += sh->slots[i].counters.accepted;
    }
}
