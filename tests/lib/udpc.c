/*
 * udpc.c - the tests' memcached UDP client (see udpc.h).
 */
#include "config.h"

#include "tests/lib/udpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

int udpc_open(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = loopback(0);
    /* room for a reply of a few MB in flight (FORCE passes rmem_max as root) */
    int rcvbuf = 8 * 1024 * 1024;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int udpc_free_port(void)
{
    int fd = udpc_open();
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int port = -1;
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

bool udpc_send_raw(int fd, int port, const void *buf, size_t len)
{
    struct sockaddr_in sin = loopback(port);
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin)) == (ssize_t)len;
}

bool udpc_send(int fd, int port, uint16_t rid, uint16_t seq, uint16_t total, uint16_t reserved,
               const void *payload, size_t len)
{
    unsigned char *buf = malloc(len + 8);
    if (buf == NULL)
        return false;
    uint16_t h[4] = {htons(rid), htons(seq), htons(total), htons(reserved)};
    memcpy(buf, h, 8);
    if (len > 0)
        memcpy(buf + 8, payload, len);
    bool ok = udpc_send_raw(fd, port, buf, len + 8);
    free(buf);
    return ok;
}

size_t udpc_collect(int fd, uint16_t rid, int first_ms, int quiet_ms, struct udpc_reply *r)
{
    static unsigned char buf[65536];
    memset(r, 0, sizeof(*r));
    int wait = first_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, wait) <= 0)
            return r->n;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 8 || ((buf[0] << 8) | buf[1]) != rid)
            continue;
        if (r->n < UDPC_MAX_DGRAMS) {
            r->dgram[r->n] = malloc((size_t)n);
            if (r->dgram[r->n] == NULL)
                return r->n;
            memcpy(r->dgram[r->n], buf, (size_t)n);
            r->len[r->n++] = (size_t)n;
        }
        /* a message still short of its count is waited for as long as
         * the first datagram was (a loaded machine may pause the sender) */
        size_t total = (size_t)((buf[4] << 8) | buf[5]);
        wait = r->n < total ? first_ms : quiet_ms;
    }
}

void udpc_reply_free(struct udpc_reply *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->dgram[i]);
    r->n = 0;
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)((p[0] << 8) | p[1]);
}

char *udpc_joined(const struct udpc_reply *r, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->len[i] - 8;
    char *out = malloc(total + 1);
    if (out == NULL)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < r->n; i++) {
        memcpy(out + off, r->dgram[i] + 8, r->len[i] - 8);
        off += r->len[i] - 8;
    }
    out[off] = '\0';
    *len = off;
    return out;
}

bool udpc_message(const struct udpc_reply *r, char **payload, size_t *len)
{
    if (r->n == 0)
        return false;
    unsigned total = get16(r->dgram[0] + 4);
    if (total != r->n)
        return false;
    for (size_t i = 0; i < r->n; i++)
        if (get16(r->dgram[i] + 2) != i || get16(r->dgram[i] + 4) != total || get16(r->dgram[i] + 6) != 0)
            return false;
    *payload = udpc_joined(r, len);
    return *payload != NULL;
}

struct mcd_server *udpc_start(const char *bin, const char *const extra[], int *udp_port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        const char *argv[32];
        char port[16];
        size_t n = 0;
        int p = udpc_free_port();
        if (p <= 0)
            continue;
        snprintf(port, sizeof(port), "%d", p);
        argv[n++] = "-U";
        argv[n++] = port;
        for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        struct mcd_server *srv = mcd_start_bin(bin, argv);
        if (srv != NULL) {
            *udp_port = p;
            return srv;
        }
    }
    return NULL;
}
