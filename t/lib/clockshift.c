
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * LD_PRELOAD for the tests: steps the wall clock of a process by the
 * seconds written in the file that TW_CLOCK_SHIFT names (read at every
 * call, so a test can step the clock of a running nginx; the name is
 * taken at load time, as nginx clears its workers' environment).  The
 * monotonic clock is left alone, as a step of the real clock leaves it,
 * unless the file has a second number: the seconds to move it forward
 * by, to see a minute go by in a few seconds.
 */


#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


static char  shift_file[512];

static int (*real_gettimeofday)(struct timeval *tv, void *tz);
static int (*real_clock_gettime)(clockid_t id, struct timespec *ts);


__attribute__((constructor)) static void
clockshift_init(void)
{
    const char  *name;

    name = getenv("TW_CLOCK_SHIFT");

    if (name != NULL) {
        snprintf(shift_file, sizeof(shift_file), "%s", name);
    }

    real_gettimeofday = (int (*)(struct timeval *, void *))
                            dlsym(RTLD_NEXT, "gettimeofday");
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))
                            dlsym(RTLD_NEXT, "clock_gettime");
}


/* the file's first number (the wall clock's step), or its second */

static long
clockshift_seconds_n(int which)
{
    int      fd;
    char     buf[64], *p;
    long     n;
    ssize_t  len;

    if (shift_file[0] == '\0') {
        return 0;
    }

    fd = open(shift_file, O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (len <= 0) {
        return 0;
    }

    buf[len] = '\0';

    n = strtol(buf, &p, 10);

    if (which == 1) {
        n = strtol(p, NULL, 10);
    }

    return n;
}


static long
clockshift_seconds(void)
{
    return clockshift_seconds_n(0);
}


int
gettimeofday(struct timeval *tv, void *tz)
{
    int  rc;

    rc = real_gettimeofday(tv, tz);

    if (rc == 0) {
        tv->tv_sec += clockshift_seconds();
    }

    return rc;
}


int
clock_gettime(clockid_t id, struct timespec *ts)
{
    int  rc;

    rc = real_clock_gettime(id, ts);

    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        ts->tv_sec += clockshift_seconds();
    }

    if (rc == 0 && (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE)) {
        ts->tv_sec += clockshift_seconds_n(1);
    }

    return rc;
}


time_t
time(time_t *t)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    if (t != NULL) {
        *t = tv.tv_sec;
    }

    return tv.tv_sec;
}
