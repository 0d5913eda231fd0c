/*
 * nats_server.h -- a real nats-server with JetStream for the unit tests
 * (test_lease_kv, test_lease_kv3, test_lease_cluster, test_cluster), alone or as a
 * cluster of up to 5: each on a random client port of 127.0.0.1 (-p -1),
 * its store and log in a temporary directory; ready
 * once it has written its ports file (polled, at most NS_START_MS); killed
 * by its pid, and by the kernel if the test dies first (PR_SET_PDEATHSIG).
 * The binary: $ZSSE_NATS_SERVER, else nats-server on PATH, else
 * /usr/sbin/nats-server (Debian's).
 */
#ifndef ZSSE_TEST_NATS_SERVER_H
#define ZSSE_TEST_NATS_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>
#include "clock.h"

#define NS_START_MS 15000           /* nats-server's start, at most */

typedef struct {
    pid_t pid;
    char  dir[64];
    char  url[128];
} ns_t;

/* poll for the ports file, which nats-server writes once it listens, and
 * take the client URL from it */
static inline int
ns_wait_url(ns_t *ns)
{
    char path[256], buf[1024];
    snprintf(path, sizeof(path), "%s/nats-server_%d.ports", ns->dir, (int)ns->pid);
    for (int64_t end = mono_ms() + NS_START_MS; mono_ms() < end; ) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            char *u = strstr(buf, "nats://"), *q = u ? strchr(u, '"') : NULL;
            if (u && q && (size_t)(q - u) < sizeof(ns->url)) {
                memcpy(ns->url, u, (size_t)(q - u));
                ns->url[q - u] = '\0';
                return 0;
            }
        }
        if (waitpid(ns->pid, NULL, WNOHANG) == ns->pid)
            return -1;                          /* it died */
        nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
    }
    return -1;
}

static inline void
ns_kill(ns_t *ns)
{
    if (ns->pid > 0) {
        kill(ns->pid, SIGKILL);
        waitpid(ns->pid, NULL, 0);
        ns->pid = 0;
    }
}

/* Start one nats-server; EXTRA: more arguments (NULL-terminated, or
 * NULL).  0, or -1 (said on stderr) */
static inline int
ns_spawn(ns_t *ns, const char *port, char *const *extra)
{
    const char *bin = getenv("ZSSE_NATS_SERVER");
    if ((ns->pid = fork()) < 0)
        return -1;
    if (ns->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive the test */
        char log[128];
        snprintf(log, sizeof(log), "%s/nats-server.log", ns->dir);
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        char *argv[32] = { "nats-server", "-js", "-a", "127.0.0.1", "-p", (char *)port,
            "-sd", ns->dir, "--ports_file_dir", ns->dir, NULL };
        for (int i = 10, j = 0; extra && extra[j] && i < 31; )
            argv[i++] = extra[j++];
        if (bin)
            execv(bin, argv);
        execvp("nats-server", argv);
        execv("/usr/sbin/nats-server", argv);
        _exit(127);
    }
    if (ns_wait_url(ns) < 0) {
        fprintf(stderr, "nats-server did not start (ZSSE_NATS_SERVER, PATH, /usr/sbin): "
            "see %s/nats-server.log\n", ns->dir);
        ns_kill(ns);
        return -1;
    }
    return 0;
}

static inline int
ns_start_with(ns_t *ns, char *const *extra)
{
    strcpy(ns->dir, "/tmp/zsse-nats.XXXXXX");
    if (!mkdtemp(ns->dir))
        return -1;
    return ns_spawn(ns, "-1", extra);
}

static inline int
ns_start(ns_t *ns)
{
    return ns_start_with(ns, NULL);
}

/* a lone server killed (as a crash) and started again on the same port
 * and store, as an operator's restart would: 0, or -1 */
static inline int
ns_restart(ns_t *ns)
{
    const char *colon = strrchr(ns->url, ':');
    char port[8];

    if (!colon || strlen(colon + 1) >= sizeof(port))
        return -1;
    snprintf(port, sizeof(port), "%s", colon + 1);
    ns_kill(ns);
    return ns_spawn(ns, port, NULL);
}

/* a TCP port of 127.0.0.1 free now (bound to 0 and closed), or -1 */
static inline int
ns_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* N (<= 5) servers as one JetStream cluster "zsse-test" (routes between
 * them on free ports).  0, or -1 (the started ones killed) */
static inline int
ns_start_cluster(ns_t *ns, int n)
{
    char names[5][16], listen[5][64], routes[512] = "";
    int port[5];
    for (int i = 0; i < n; i++) {
        if ((port[i] = ns_free_port()) < 0)
            return -1;
        snprintf(names[i], sizeof(names[i]), "n%d", i);
        snprintf(listen[i], sizeof(listen[i]), "nats://127.0.0.1:%d", port[i]);
        snprintf(routes + strlen(routes), sizeof(routes) - strlen(routes), "%s%s",
            i ? "," : "", listen[i]);
    }
    for (int i = 0; i < n; i++) {
        char *extra[] = { "--server_name", names[i], "--cluster_name", "zsse-test",
            "--cluster", listen[i], "--routes", routes, NULL };
        if (ns_start_with(&ns[i], extra) < 0) {
            while (i-- > 0)
                ns_kill(&ns[i]);
            return -1;
        }
    }
    return 0;
}

/* a connection to it (retried for NS_START_MS; no reconnects), or NULL */
static inline natsConnection *
ns_connect(const ns_t *ns)
{
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    if (natsOptions_Create(&o) != NATS_OK || natsOptions_SetURL(o, ns->url) != NATS_OK ||
        natsOptions_SetTimeout(o, 2000) != NATS_OK ||
        natsOptions_SetMaxReconnect(o, 0) != NATS_OK) {
        natsOptions_Destroy(o);
        return NULL;
    }
    for (int64_t end = mono_ms() + NS_START_MS; !nc && mono_ms() < end; )
        if (natsConnection_Connect(&nc, o) != NATS_OK)
            nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
    natsOptions_Destroy(o);
    return nc;
}

/* kill it (if still running) and remove its directory: 0 / -1 */
static inline int
ns_stop(ns_t *ns)
{
    char cmd[128];
    ns_kill(ns);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ns->dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
