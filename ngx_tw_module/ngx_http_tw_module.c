
/*
 * Copyright (C) ngx_tw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_tw_module.h"


static void *ngx_http_tw_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_tw_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_tw_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_tw_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tw_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tw_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tw_status_format(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tw_zone_size(ngx_conf_t *cf, void *post, void *data);
static ngx_int_t ngx_http_tw_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_tw_servers(ngx_conf_t *cf,
    ngx_http_tw_main_conf_t *twmcf);
static ngx_str_t *ngx_http_tw_first_listen(ngx_http_core_main_conf_t *cmcf,
    ngx_http_core_srv_conf_t *cscf);
static ngx_uint_t ngx_http_tw_tcp_port(ngx_http_conf_port_t *port);


static ngx_conf_post_handler_pt  ngx_http_tw_zone_size_p =
    ngx_http_tw_zone_size;

/* a character of a variable's name, as nginx's script compiler takes it */

#define ngx_http_tw_var_char(ch)                                              \
    (((ch) >= 'A' && (ch) <= 'Z') || ((ch) >= 'a' && (ch) <= 'z')             \
     || ((ch) >= '0' && (ch) <= '9') || (ch) == '_')

static char *ngx_http_tw_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_uint_t ngx_http_tw_key_variable(ngx_str_t *value, ngx_str_t *name);
static ngx_int_t ngx_http_tw_key_vars_add(ngx_conf_t *cf,
    ngx_http_tw_main_conf_t *twmcf, ngx_str_t *value);
static ngx_int_t ngx_http_tw_key_vars_check(ngx_conf_t *cf,
    ngx_http_tw_main_conf_t *twmcf);
static ngx_uint_t ngx_http_tw_var_known(ngx_http_core_main_conf_t *cmcf,
    ngx_str_t *name);
static char *ngx_http_tw_key_max(ngx_conf_t *cf, void *post, void *data);

static ngx_conf_post_handler_pt  ngx_http_tw_key_max_p = ngx_http_tw_key_max;
static ngx_int_t ngx_http_tw_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_tw_init_process(ngx_cycle_t *cycle);
static void ngx_http_tw_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_tw_commands[] = {

    { ngx_string("tw"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_tw_srv_conf_t, enable),
      NULL },

    { ngx_string("tw_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tw_main_conf_t, zone_size),
      &ngx_http_tw_zone_size_p },

    { ngx_string("tw_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_tw_key,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tw_key_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tw_main_conf_t, key_max),
      &ngx_http_tw_key_max_p },

    { ngx_string("tw_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tw_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tw_status_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tw_status_format,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tw_status_reset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tw_loc_conf_t, reset),
      NULL },

    { ngx_string("tw_status_kernel"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tw_loc_conf_t, kernel),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tw_module_ctx = {
    ngx_http_tw_add_variables,             /* preconfiguration */
    ngx_http_tw_init,                      /* postconfiguration */

    ngx_http_tw_create_main_conf,          /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_tw_create_srv_conf,           /* create server configuration */
    ngx_http_tw_merge_srv_conf,            /* merge server configuration */

    ngx_http_tw_create_loc_conf,           /* create location configuration */
    ngx_http_tw_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_tw_module = {
    NGX_MODULE_V1,
    &ngx_http_tw_module_ctx,               /* module context */
    ngx_http_tw_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_tw_init_module,               /* init module */
    ngx_http_tw_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tw_exit_process,              /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_tw_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tw_main_conf_t  *twmcf;

    twmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tw_main_conf_t));
    if (twmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     twmcf->sh = NULL;
     *     twmcf->shpool = NULL;
     *     twmcf->shm_zone = NULL;
     *     twmcf->key_last = NULL;
     */

    twmcf->zone_size = NGX_CONF_UNSET_SIZE;
    twmcf->key_max = NGX_CONF_UNSET;

    if (ngx_array_init(&twmcf->servers, cf->pool, 4,
                       sizeof(ngx_http_tw_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&twmcf->key_vars, cf->pool, 1,
                       sizeof(ngx_http_tw_key_var_t))
        != NGX_OK)
    {
        return NULL;
    }

    return twmcf;
}


static void *
ngx_http_tw_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_tw_srv_conf_t  *twscf;

    twscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tw_srv_conf_t));
    if (twscf == NULL) {
        return NULL;
    }

    twscf->enable = NGX_CONF_UNSET;

    return twscf;
}


static char *
ngx_http_tw_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tw_srv_conf_t *prev = parent;
    ngx_http_tw_srv_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 1);

    if (conf->key == NULL) {
        conf->key = prev->key;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_tw_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tw_loc_conf_t  *twlcf;

    twlcf = ngx_palloc(cf->pool, sizeof(ngx_http_tw_loc_conf_t));
    if (twlcf == NULL) {
        return NULL;
    }

    twlcf->format = NGX_CONF_UNSET_UINT;
    twlcf->reset = NGX_CONF_UNSET;
    twlcf->kernel = NGX_CONF_UNSET;
    twlcf->status_file = NULL;
    twlcf->status_line = 0;

    return twlcf;
}


static char *
ngx_http_tw_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tw_loc_conf_t *prev = parent;
    ngx_http_tw_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_TW_FORMAT_TEXT);
    ngx_conf_merge_value(conf->reset, prev->reset, 0);
    ngx_conf_merge_value(conf->kernel, prev->kernel, 1);

    /*
     * a content handler set after tw_status in the same location
     * (proxy_pass, fastcgi_pass, ...) replaced it; the location is the
     * one merged now
     */

    if (conf->status_line) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->handler != ngx_http_tw_status_handler) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"tw_status\" conflicts with another content"
                          " handler of its location in %s:%ui",
                          conf->status_file, conf->status_line);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tw_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tw_loc_conf_t *twlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_tw_status_handler) {
        return "is duplicate";
    }

    if (clcf->handler != NULL) {
        return "conflicts with another content handler of this location";
    }

    clcf->handler = ngx_http_tw_status_handler;

    twlcf->status_file = cf->conf_file->file.name.data;
    twlcf->status_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* as nginx's enum slot, with the values in the message */

static char *
ngx_http_tw_status_format(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tw_loc_conf_t *twlcf = conf;

    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    if (twlcf->format != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_tw_status_formats; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcasecmp(e->name.data, value[1].data) == 0)
        {
            twlcf->format = e->value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"text\", \"json\" or \"prometheus\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_tw_zone_size(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp < 128 * 1024) {
        return "must be at least 128k";
    }

    /*
     * a quarter of a million tw_key values, whose status nobody could
     * read; a size beyond what the host has would otherwise end in
     * nginx's mmap() alert, which does not name the directive
     */

    if (*sp > 1024 * 1024 * 1024) {
        return "must be at most 1024m";
    }

    return NGX_CONF_OK;
}


/* tw_key string [connection]; */

static char *
ngx_http_tw_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tw_srv_conf_t *twscf = conf;

    ngx_str_t                         *value, name;
    ngx_http_tw_key_conf_t            *kc;
    ngx_http_tw_main_conf_t           *twmcf;
    ngx_http_compile_complex_value_t   ccv;

    if (twscf->key != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    kc = ngx_pcalloc(cf->pool, sizeof(ngx_http_tw_key_conf_t));
    if (kc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "connection") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", it can only be"
                               " \"connection\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        kc->connection = 1;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &kc->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    twmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tw_module);

    if (ngx_http_tw_key_vars_add(cf, twmcf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * one variable alone, the usual key, is read as a variable: nginx's
     * script engine would copy its value for nothing
     */

    kc->index = NGX_ERROR;

    if (ngx_http_tw_key_variable(&value[1], &name)) {
        kc->index = ngx_http_get_variable_index(cf, &name);

        if (kc->index == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    twscf->key = kc;

    return NGX_CONF_OK;
}


/* "$name" or "${name}" alone: the name */

static ngx_uint_t
ngx_http_tw_key_variable(ngx_str_t *value, ngx_str_t *name)
{
    ngx_uint_t  i, n, bracket;

    if (value->len < 2 || value->data[0] != '$') {
        return 0;
    }

    bracket = (value->data[1] == '{');
    i = bracket ? 2 : 1;
    n = value->len - bracket;

    name->data = &value->data[i];

    if (i < n && value->data[i] >= '0' && value->data[i] <= '9') {
        /*
         * "$1" is a capture: a name that starts with a digit is left to
         * the script engine
         */

        return 0;
    }

    for ( /* void */ ; i < n; i++) {
        if (!ngx_http_tw_var_char(value->data[i])) {
            return 0;
        }
    }

    if (bracket && value->data[value->len - 1] != '}') {
        return 0;
    }

    name->len = &value->data[n] - name->data;

    return (name->len > 0);
}


/*
 * The variables of a tw_key value, as nginx's script compiler reads them
 * ("$1" to "$9" are captures), kept with the directive's place: a name
 * that no module defines fails as nginx's own check would, a step
 * earlier, with the file and line nginx's message lacks.
 */

static ngx_int_t
ngx_http_tw_key_vars_add(ngx_conf_t *cf, ngx_http_tw_main_conf_t *twmcf,
    ngx_str_t *value)
{
    ngx_uint_t              i;
    ngx_http_tw_key_var_t  *kv;

    i = 0;

    while (i < value->len) {

        if (value->data[i++] != '$' || i == value->len) {
            continue;
        }

        if (value->data[i] >= '1' && value->data[i] <= '9') {
            continue;
        }

        if (value->data[i] == '{') {
            i++;
        }

        kv = ngx_array_push(&twmcf->key_vars);
        if (kv == NULL) {
            return NGX_ERROR;
        }

        kv->name.data = &value->data[i];
        kv->file = cf->conf_file->file.name.data;
        kv->line = cf->conf_file->line;

        while (i < value->len && ngx_http_tw_var_char(value->data[i])) {
            i++;
        }

        /* the compiler has taken the value: the name is never empty */

        kv->name.len = &value->data[i] - kv->name.data;
    }

    return NGX_OK;
}


/*
 * Run as the configuration ends, before nginx's own check of variables
 * (ngx_http_variables_init_vars()): every module has added its
 * variables by now, in its preconfiguration or with its directives.
 */

static ngx_int_t
ngx_http_tw_key_vars_check(ngx_conf_t *cf, ngx_http_tw_main_conf_t *twmcf)
{
    ngx_uint_t                  i;
    ngx_http_tw_key_var_t      *kv;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->variables_keys == NULL) {
        return NGX_OK;
    }

    kv = twmcf->key_vars.elts;

    for (i = 0; i < twmcf->key_vars.nelts; i++) {

        if (ngx_http_tw_var_known(cmcf, &kv[i].name)) {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown \"%V\" variable in \"tw_key\" directive "
                      "in %s:%ui", &kv[i].name, kv[i].file, kv[i].line);

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * As ngx_http_variables_init_vars() finds a variable: by its name, a
 * "weak" one ("set") only if no prefix ("http_", "arg_") takes it first,
 * and one without a handler only by a prefix.
 */

static ngx_uint_t
ngx_http_tw_var_known(ngx_http_core_main_conf_t *cmcf, ngx_str_t *name)
{
    ngx_uint_t            n;
    ngx_hash_key_t       *key;
    ngx_http_variable_t  *av, *pv;

    av = NULL;
    key = cmcf->variables_keys->keys.elts;

    for (n = 0; n < cmcf->variables_keys->keys.nelts; n++) {
        if (name->len == key[n].key.len
            && ngx_strncasecmp(name->data, key[n].key.data, name->len) == 0)
        {
            av = key[n].value;
            break;
        }
    }

    if (av != NULL && av->get_handler != NULL) {
        return 1;
    }

    pv = cmcf->prefix_variables.elts;

    for (n = 0; n < cmcf->prefix_variables.nelts; n++) {
        if (name->len >= pv[n].name.len
            && ngx_strncasecmp(name->data, pv[n].name.data, pv[n].name.len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


static char *
ngx_http_tw_key_max(ngx_conf_t *cf, void *post, void *data)
{
    ngx_int_t  *np = data;

    if (*np < 1 || *np > 10000) {
        return "must be between 1 and 10000";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tw_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_tw_main_conf_t    *twmcf;
    ngx_http_core_main_conf_t  *cmcf;

    twmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tw_module);

    ngx_conf_init_size_value(twmcf->zone_size, 1024 * 1024);
    ngx_conf_init_value(twmcf->key_max, 100);

    if (ngx_http_tw_key_vars_check(cf, twmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_tw_servers(cf, twmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_tw_zone_add(cf, twmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_tw_log_handler;

    ngx_http_tw_close_init_filter();

    return NGX_OK;
}


/*
 * The servers broken down in the counters, each labelled by its first
 * server_name and its first listen address.
 */

static ngx_int_t
ngx_http_tw_servers(ngx_conf_t *cf, ngx_http_tw_main_conf_t *twmcf)
{
    ngx_str_t                  *listen;
    ngx_uint_t                  i;
    ngx_http_server_name_t     *sn;
    ngx_http_tw_srv_conf_t     *twscf, **twscfp;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;
#if (NGX_PCRE)
    u_char                     *p;
#endif

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        twscf = cscfp[i]->ctx->srv_conf[ngx_http_tw_module.ctx_index];

        if (!twscf->enable) {
            continue;
        }

        if (cscfp[i]->server_names.nelts) {
            sn = cscfp[i]->server_names.elts;
            twscf->name = sn[0].name;

#if (NGX_PCRE)
            if (sn[0].regex) {

                /* nginx keeps a regular expression without its "~" */

                p = ngx_pnalloc(cf->pool, sn[0].name.len + 1);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                *p = '~';
                ngx_memcpy(p + 1, sn[0].name.data, sn[0].name.len);

                twscf->name.data = p;
                twscf->name.len = sn[0].name.len + 1;
            }
#endif

            if (ngx_http_tw_name_escape(cf->pool, &twscf->name) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        twscf->cscf = cscfp[i];
        twscf->clcf = cscfp[i]->ctx->loc_conf[ngx_http_core_module.ctx_index];

        listen = ngx_http_tw_first_listen(cmcf, cscfp[i]);

        if (listen) {
            twscf->listen = *listen;

            /* a UNIX socket's path may have any byte, as a name */

            if (ngx_http_tw_name_escape(cf->pool, &twscf->listen) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        twscfp = ngx_array_push(&twmcf->servers);
        if (twscfp == NULL) {
            return NGX_ERROR;
        }

        *twscfp = twscf;
    }

    return NGX_OK;
}


/*
 * The address a server is labelled with: of its TCP addresses, whose
 * connections are counted, the one with the lowest port, and of those
 * the first in byte order of its text.  It depends only on the server's
 * own "listen" directives: another server added or removed on one of
 * its ports changes nothing.  A UNIX socket (all of them are on one
 * "port" of nginx's list, as port 0), or a QUIC address, only when the
 * server has nothing else.
 */

static ngx_str_t *
ngx_http_tw_first_listen(ngx_http_core_main_conf_t *cmcf,
    ngx_http_core_srv_conf_t *cscf)
{
    in_port_t                   best_port;
    ngx_str_t                  *text, *best;
    ngx_uint_t                  p, a, s, any;
    ngx_http_conf_port_t       *port;
    ngx_http_conf_addr_t       *addr;
    ngx_http_core_srv_conf_t  **server;

    if (cmcf->ports == NULL) {
        return NULL;
    }

    port = cmcf->ports->elts;
    best = NULL;
    best_port = 0;

    for (any = 0; any < 2 && best == NULL; any++) {

        for (p = 0; p < cmcf->ports->nelts; p++) {

            /* TCP ports first, then the others */

            if (ngx_http_tw_tcp_port(&port[p]) == any) {
                continue;
            }

            addr = port[p].addrs.elts;

            for (a = 0; a < port[p].addrs.nelts; a++) {
                server = addr[a].servers.elts;

                for (s = 0; s < addr[a].servers.nelts; s++) {
                    if (server[s] == cscf) {
                        break;
                    }
                }

                if (s == addr[a].servers.nelts) {
                    continue;
                }

                text = &addr[a].opt.addr_text;

                if (best == NULL
                    || port[p].port < best_port
                    || (port[p].port == best_port
                        && ngx_memn2cmp(text->data, best->data,
                                        text->len, best->len) < 0))
                {
                    best = text;
                    best_port = port[p].port;
                }
            }
        }
    }

    return best;
}


static ngx_uint_t
ngx_http_tw_tcp_port(ngx_http_conf_port_t *port)
{
#if (NGX_HAVE_UNIX_DOMAIN)
    if (port->family == AF_UNIX) {
        return 0;
    }
#endif

#if (nginx_version >= 1025000)
    if (port->type != SOCK_STREAM) {
        return 0;
    }
#endif

    return 1;
}


static ngx_int_t
ngx_http_tw_init_module(ngx_cycle_t *cycle)
{
    ngx_core_conf_t          *ccf;
    ngx_http_tw_main_conf_t  *twmcf;

    twmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tw_module);

    if (twmcf != NULL && twmcf->sh != NULL) {
        ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                               ngx_core_module);

        ngx_http_tw_zone_init_module(twmcf, ccf->worker_processes);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tw_init_process(ngx_cycle_t *cycle)
{
    ngx_http_tw_main_conf_t  *twmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    twmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tw_module);

    if (twmcf == NULL || twmcf->sh == NULL) {
        return NGX_OK;
    }

    ngx_http_tw_zone_init_process(twmcf);

    return ngx_http_tw_close_init_process(cycle, twmcf);
}


static void
ngx_http_tw_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_tw_close_exit_process(cycle);
    ngx_http_tw_zone_exit_process();
}
