
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * LD_PRELOAD for the tests: steps the wall clock of a process by the
 * seconds written in the file that TW_CLOCK_SHIFT names (read at every
 * call, so a test can step the clock of a running nginx; the name is
 * taken at load time, as nginx clears its workers' environment).  The
 * monotonic clock is left alone, as a step of the real clock leaves it.
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


static long
clockshift_seconds(void)
{
    int      fd;
    char     buf[32];
    ssize_t  n;

    if (shift_file[0] == '\0') {
        return 0;
    }

    fd = open(shift_file, O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    buf[n] = '\0';

    return strtol(buf, NULL, 10);
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
