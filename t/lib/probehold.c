
/*
 * Copyright (C) ngx_tw authors
 */


/*
 * LD_PRELOAD for the tests: holds nginx between its last read of a
 * connection and close(), so that a client's RST lands there, where no
 * client can place it on purpose (t/46-probe-hold.t).
 *
 * The module asks a socket for TCP_INFO in that window.  While the file
 * "<TW_PROBE_HOLD>.arm" exists, the first such call removes it, creates
 * "<TW_PROBE_HOLD>.held" for the test to see, and waits, up to five
 * seconds, until the kernel shows the socket closed by the RST; then the
 * call is made as it would have been.  The name is taken at load time,
 * as nginx clears its workers' environment.
 */


#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>


static char  arm_file[512];
static char  held_file[512];

static int (*real_getsockopt)(int fd, int level, int name, void *value,
    socklen_t *len);


__attribute__((constructor)) static void
probehold_init(void)
{
    const char  *name;

    name = getenv("TW_PROBE_HOLD");

    if (name != NULL) {
        snprintf(arm_file, sizeof(arm_file), "%s.arm", name);
        snprintf(held_file, sizeof(held_file), "%s.held", name);
    }

    real_getsockopt = (int (*)(int, int, int, void *, socklen_t *))
                          dlsym(RTLD_NEXT, "getsockopt");
}


int
getsockopt(int fd, int level, int name, void *value, socklen_t *len)
{
    int               i, hfd;
    socklen_t         n;
    struct tcp_info   ti;

    if (level != IPPROTO_TCP || name != TCP_INFO || arm_file[0] == '\0'
        || unlink(arm_file) == -1)
    {
        return real_getsockopt(fd, level, name, value, len);
    }

    hfd = open(held_file, O_WRONLY|O_CREAT|O_TRUNC, 0644);
    if (hfd != -1) {
        close(hfd);
    }

    for (i = 0; i < 500; i++) {
        n = sizeof(struct tcp_info);

        if (real_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) == 0
            && ti.tcpi_state == TCP_CLOSE)
        {
            break;
        }

        usleep(10000);
    }

    return real_getsockopt(fd, level, name, value, len);
}
