
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * TAP for the unit tests built with nginx's objects: ok() prints one
 * test's line, its name formatted as ngx_sprintf() formats; "failed"
 * makes the exit code.
 */


#ifndef _NGX_HTTP_TW_UNIT_TAP_H_INCLUDED_
#define _NGX_HTTP_TW_UNIT_TAP_H_INCLUDED_


static int  tests, failed;


static void
ok(int pass, const char *fmt, ...)
{
    u_char   text[256], *last;
    va_list  args;

    tests++;

    if (!pass) {
        failed++;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(text, text + sizeof(text), fmt, args);
    va_end(args);

    printf("%s %d - %.*s\n", pass ? "ok" : "not ok", tests,
           (int) (last - text), text);
}


#endif /* _NGX_HTTP_TW_UNIT_TAP_H_INCLUDED_ */
