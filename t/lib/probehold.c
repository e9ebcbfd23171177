
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * LD_PRELOAD for the tests: holds nginx at a given point of a close, so
 * that a client's RST lands there, where no client can place it on
 * purpose (t/46-probe-hold.t):
 *
 *   - between its last read of a connection and close(): the module asks
 *     the socket for TCP_INFO there; while the file "<TW_PROBE_HOLD>.arm"
 *     exists, the first such call is held;
 *   - before the write of a TLS alert record (a close_notify): while
 *     "<TW_PROBE_HOLD>.arm-alert" exists, the first such write is held;
 *   - or, as long as "<TW_PROBE_HOLD>.arm-again" exists, every such
 *     write fails at once, as on a socket whose buffer stays full
 *     (EAGAIN), until nginx's shutdown gives up: the file stays, for the
 *     test to remove;
 *   - and, for a process to die holding the zone's mutex, before the
 *     write of the error that new tw_key values no longer fit, which the
 *     module logs with the mutex held: while "<TW_PROBE_HOLD>.arm-full"
 *     exists.
 *
 * A hold removes its file, writes the process's pid in
 * "<TW_PROBE_HOLD>.held" for the test to see, and waits, up to five
 * seconds, until the kernel shows the socket closed by the RST (or by a
 * FIN after nginx's), or, for the error, ten seconds; then the call is
 * made as it would have been.  The name is taken at load time, as nginx
 * clears its workers' environment.
 */


#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static char  arm_file[512];
static char  alert_file[512];
static char  again_file[512];
static char  full_file[512];
static char  held_file[512];

static int (*real_getsockopt)(int fd, int level, int name, void *value,
    socklen_t *len);
static ssize_t (*real_write)(int fd, const void *buf, size_t n);


static void probehold_mark(void);
static void probehold_wait(int fd);


__attribute__((constructor)) static void
probehold_init(void)
{
    const char  *name;

    name = getenv("TW_PROBE_HOLD");

    if (name != NULL) {
        snprintf(arm_file, sizeof(arm_file), "%s.arm", name);
        snprintf(alert_file, sizeof(alert_file), "%s.arm-alert", name);
        snprintf(again_file, sizeof(again_file), "%s.arm-again", name);
        snprintf(full_file, sizeof(full_file), "%s.arm-full", name);
        snprintf(held_file, sizeof(held_file), "%s.held", name);
    }

    real_getsockopt = (int (*)(int, int, int, void *, socklen_t *))
                          dlsym(RTLD_NEXT, "getsockopt");
    real_write = (ssize_t (*)(int, const void *, size_t))
                     dlsym(RTLD_NEXT, "write");
}


int
getsockopt(int fd, int level, int name, void *value, socklen_t *len)
{
    if (level == IPPROTO_TCP && name == TCP_INFO && arm_file[0] != '\0'
        && unlink(arm_file) == 0)
    {
        probehold_wait(fd);
    }

    return real_getsockopt(fd, level, name, value, len);
}


/*
 * A TLS alert record: of type alert up to TLS 1.2; in TLS 1.3, a record
 * of application data that holds 2 bytes of alert, 1 of type and a tag
 * of 16 (24 bytes in all, no response of nginx's is that short).
 */

ssize_t
write(int fd, const void *buf, size_t n)
{
    const unsigned char  *p = buf;

    if (real_write == NULL) {
        /* a write before the constructor ran */
        real_write = (ssize_t (*)(int, const void *, size_t))
                         dlsym(RTLD_NEXT, "write");
    }

    if (alert_file[0] != '\0'
        && n >= 5 && p[1] == 3
        && (p[0] == 21 || (p[0] == 23 && n == 24 && p[3] == 0 && p[4] == 19)))
    {
        if (access(again_file, F_OK) == 0) {
            probehold_mark();
            errno = EAGAIN;
            return -1;
        }

        if (unlink(alert_file) == 0) {
            probehold_wait(fd);
        }
    }

    if (full_file[0] != '\0'
        && memmem(buf, n, "new tw_key values are counted", 29) != NULL
        && unlink(full_file) == 0)
    {
        probehold_wait(-1);
    }

    return real_write(fd, buf, n);
}


static void
probehold_mark(void)
{
    int   fd, len;
    char  pid[32];

    fd = open(held_file, O_WRONLY|O_CREAT|O_TRUNC, 0644);
    if (fd != -1) {
        len = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        (void) real_write(fd, pid, len);
        close(fd);
    }
}


static void
probehold_wait(int fd)
{
    int               i;
    socklen_t         n;
    struct tcp_info   ti;

    probehold_mark();

    for (i = 0; i < (fd == -1 ? 1000 : 500); i++) {
        n = sizeof(struct tcp_info);

        if (fd != -1
            && real_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) == 0
            && ti.tcpi_state == TCP_CLOSE)
        {
            break;
        }

        usleep(10000);
    }
}
