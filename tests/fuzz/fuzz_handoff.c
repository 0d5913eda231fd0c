/* libFuzzer target: datagrams on zsse-fcgi's handoff socket (fcgi/accept.c
 * accept_take_handoffs(), reached by including the file).  zsse-handoff sends one
 * byte, HANDOFF_TAG, with exactly one connected stream socket; anything
 * else must be dropped with every descriptor it carried closed.
 * Properties: no descriptor leaks (the process holds the same number of
 * open descriptors after the datagrams as before, once the queued
 * connections are taken and closed), and only a well-formed datagram puts
 * a connection on the queue.  (A stream socket that is not connected is
 * taken too -- zsse-fcgi checks SO_TYPE only; its setup thread's first
 * read then fails at once and closes it -- so it counts as well-formed.)
 *
 * Input: datagrams, each LEN (1 byte, up to 64 data bytes), FDS (1 byte:
 * bits 0-2 how many descriptors, bits 3-5 which kind -- a stream socket,
 * a datagram socket, a pipe, /dev/null, a listening socket -- and bit 6 a
 * second SCM_RIGHTS header), then LEN bytes. */
#include <stdint.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include "../../fcgi/accept.c"
#include "../../fcgi/gate.c"          /* taken connections wait in its list */

static int
open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        abort();
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* a descriptor of KIND for the datagram; *PEER the other end to close */
static int
make_fd(int kind, int *peer)
{
    int sv[2], fd;
    *peer = -1;
    switch (kind % 5) {
    case 0:
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
        *peer = sv[1];
        return sv[0];
    case 1:
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) abort();
        *peer = sv[1];
        return sv[0];
    case 2:
        if (pipe(sv) < 0) abort();
        *peer = sv[1];
        return sv[0];
    case 3:
        if ((fd = open("/dev/null", O_RDONLY)) < 0) abort();
        return fd;
    default:
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) abort();
        return fd;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static int s[2] = { -1, -1 };
    if (s[0] < 0) {
        if (accept_init(1) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, s) < 0)
            abort();
    }
    int before = open_fds(), sent_ok = 0;
    size_t i = 0;
    for (int k = 0; k < 16 && i + 2 <= size; k++) {
        size_t len = in[i] % 65;
        int nfd = in[i + 1] & 7, kind = (in[i + 1] >> 3) & 7, split = in[i + 1] & 64;
        i += 2;
        if (len > size - i)
            len = size - i;
        int fds[7], peers[7];
        for (int f = 0; f < nfd; f++)
            fds[f] = make_fd(kind + f * (split ? 1 : 0), &peers[f]);
        char ctl[2 * CMSG_SPACE(7 * sizeof(int))];
        memset(ctl, 0, sizeof(ctl));
        struct iovec iov = { (void *)(in + i), len };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (nfd) {
            int first = split && nfd > 1 ? nfd / 2 : nfd;
            m.msg_control = ctl;
            m.msg_controllen = CMSG_SPACE((size_t)first * sizeof(int)) +
                (first < nfd ? CMSG_SPACE((size_t)(nfd - first) * sizeof(int)) : 0);
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN((size_t)first * sizeof(int));
            memcpy(CMSG_DATA(c), fds, (size_t)first * sizeof(int));
            if (first < nfd) {
                c = CMSG_NXTHDR(&m, c);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN((size_t)(nfd - first) * sizeof(int));
                memcpy(CMSG_DATA(c), fds + first, (size_t)(nfd - first) * sizeof(int));
            }
        }
        if (sendmsg(s[1], &m, MSG_DONTWAIT) >= 0 && len == 1 && in[i] == HANDOFF_TAG &&
            nfd == 1 && (kind % 5 == 0 || kind % 5 == 4))
            sent_ok++;
        for (int f = 0; f < nfd; f++) {
            close(fds[f]);
            if (peers[f] >= 0)
                close(peers[f]);
        }
        i += len;
    }
    accept_take_handoffs(s[0]);
    int queued = 0;
    while (acceptor.q.len) {
        close((int)(intptr_t)ring_pop(&acceptor.q));
        queued++;
    }
    for (gate_conn_t *c = gates.head, *next; c; c = next) {     /* (a head not in yet) */
        next = c->next;
        close(c->fd);
        free(c);
        queued++;
    }
    gates.head = gates.tail = NULL;
    gates.n = 0;
    if (queued != sent_ok)
        __builtin_trap();               /* a good one lost, or a bad one taken */
    if (open_fds() != before)
        __builtin_trap();               /* a descriptor leaked */
    return 0;
}
