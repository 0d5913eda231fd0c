/*
 * nats_server.h -- a real nats-server (Debian's) for the unit tests of the
 * cluster mode: one node with JetStream on, on a free loopback port, its
 * store in a temporary directory, killed by its PID.
 *
 *     ns_start(&ns)    pick a port, start, wait until it answers (bounded)
 *     ns_kill(&ns)     SIGKILL, reaped: as a crash would
 *     ns_restart(&ns)  the same port and store again
 *     ns_stop(&ns)     kill, remove the store
 *
 * ns.url is its nats:// URL.  Skips the test (exit 77) when nats-server is
 * not installed; tests/run installs it, so there it always runs.
 */
#ifndef ZSSE_NATS_SERVER_H
#define ZSSE_NATS_SERVER_H

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define NS_READY_MS 10000           /* nats-server up, at most */

typedef struct {
    pid_t pid;
    int   port;
    char  dir[64];                  /* the JetStream store */
    char  url[64];
} nats_server_t;

/* a loopback port free now (bound, read, closed) */
static inline int
ns_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* 1 when something accepts on PORT */
static inline int
ns_answers(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* start nats-server on NS's port and store; 0, or -1 (message on stderr) */
static inline int
ns_spawn(nats_server_t *ns)
{
    char port[16];

    snprintf(port, sizeof(port), "%d", ns->port);
    if ((ns->pid = fork()) == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd",
            ns->dir, (char *)NULL);
        _exit(127);
    }
    if (ns->pid < 0)
        return -1;
    for (int i = 0; i < NS_READY_MS / 10; i++) {
        int st;
        if (waitpid(ns->pid, &st, WNOHANG) == ns->pid) {
            fprintf(stderr, "nats_server: nats-server exited (%d)\n", WEXITSTATUS(st));
            ns->pid = 0;
            return -1;
        }
        if (ns_answers(ns->port))
            return 0;
        usleep(10000);
    }
    fprintf(stderr, "nats_server: no answer on port %d in %d ms\n", ns->port, NS_READY_MS);
    return -1;
}

static inline int
ns_start(nats_server_t *ns)
{
    if (system("command -v nats-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "nats_server: nats-server is not installed: skipped\n");
        exit(77);
    }
    snprintf(ns->dir, sizeof(ns->dir), "/tmp/zsse-ns-XXXXXX");
    if (!mkdtemp(ns->dir) || (ns->port = ns_free_port()) < 0)
        return -1;
    snprintf(ns->url, sizeof(ns->url), "nats://127.0.0.1:%d", ns->port);
    return ns_spawn(ns);
}

static inline void
ns_kill(nats_server_t *ns)
{
    if (ns->pid > 0) {
        kill(ns->pid, SIGKILL);
        waitpid(ns->pid, NULL, 0);
    }
    ns->pid = 0;
}

static inline int
ns_restart(nats_server_t *ns)
{
    ns_kill(ns);
    return ns_spawn(ns);
}

static inline void
ns_stop(nats_server_t *ns)
{
    char cmd[128];
    ns_kill(ns);
    if (ns->dir[0] && strncmp(ns->dir, "/tmp/zsse-ns-", 13) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ns->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "nats_server: could not remove %s\n", ns->dir);
    }
}

#endif
