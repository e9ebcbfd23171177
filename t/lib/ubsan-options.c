
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * Linked into build/asan/nginx ("make asan"): UndefinedBehaviorSanitizer's
 * options.  Its runtime reads UBSAN_OPTIONS at its first report, from
 * /proc/self/environ, and by then nginx has written its process title
 * ("nginx: worker process") over the memory that file shows: a worker's
 * report would go without a stack trace and without the suppressions of
 * t/ubsan.supp.  The runtime asks this function first, the environment
 * after it.  NGX_TW_UBSAN_SUPP is the absolute path of t/ubsan.supp.
 */


const char *__ubsan_default_options(void);


const char *
__ubsan_default_options(void)
{
    return "print_stacktrace=1:suppressions=" NGX_TW_UBSAN_SUPP;
}
