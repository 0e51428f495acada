/*
 * udp_load.c - a closed-loop memcached UDP load for bench/udp.sh: CLIENTS
 * sockets (each its own source port) each keep one `get KEY` request
 * datagram outstanding, and count it done once every datagram of its reply
 * has come back. A reply not complete within 200 ms counts as lost and the
 * client sends a new request. Stores KEY (VALUE_SIZE bytes) over UDP first.
 *
 * usage: udp_load PORT SECONDS CLIENTS VALUE_SIZE
 * prints: "ops N lost L secs S"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define LOST_MS 200

struct client {
    int fd;
    uint16_t rid;
    unsigned got, total;
    long long sent_ms;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int open_client(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rcv = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("udp_load: socket");
        exit(1);
    }
    return fd;
}

static void send_req(struct client *c, const char *req, size_t n)
{
    char buf[2048];
    c->rid++;
    uint16_t h[4] = {htons(c->rid), 0, htons(1), 0};
    memcpy(buf, h, 8);
    memcpy(buf + 8, req, n);
    c->got = c->total = 0;
    c->sent_ms = now_ms();
    if (send(c->fd, buf, n + 8, 0) < 0 && errno != EAGAIN)
        perror("udp_load: send");
}

/* Reads what is there; returns true when the outstanding reply is complete. */
static bool drain(struct client *c)
{
    unsigned char buf[2048];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 8)
            return false;
        if (((buf[0] << 8) | buf[1]) != c->rid)
            continue;
        c->total = (unsigned)((buf[4] << 8) | buf[5]);
        if (++c->got >= c->total)
            return true;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: udp_load PORT SECONDS CLIENTS VALUE_SIZE\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double secs = atof(argv[2]);
    int nc = atoi(argv[3]);
    size_t vsize = (size_t)atol(argv[4]);
    if (nc < 1 || nc > MAX_CLIENTS || vsize > 1000) {
        fprintf(stderr, "udp_load: 1..256 clients, a value of at most 1000 bytes (one request datagram)\n");
        return 2;
    }
    static struct client cl[MAX_CLIENTS];
    struct pollfd pf[MAX_CLIENTS];
    for (int i = 0; i < nc; i++) {
        cl[i].fd = open_client(port);
        cl[i].rid = (uint16_t)(i * 1000);
        pf[i].fd = cl[i].fd;
        pf[i].events = POLLIN;
    }

    /* store the key */
    char set[1100];
    int n = snprintf(set, sizeof(set), "set udpbench 0 0 %zu\r\n", vsize);
    memset(set + n, 'v', vsize);
    memcpy(set + n + vsize, "\r\n", 2);
    for (int tries = 0;; tries++) {
        send_req(&cl[0], set, (size_t)n + vsize + 2);
        struct pollfd p = {.fd = cl[0].fd, .events = POLLIN};
        if (poll(&p, 1, 500) > 0 && drain(&cl[0]))
            break;
        if (tries == 10) {
            fprintf(stderr, "udp_load: no reply to the set\n");
            return 1;
        }
    }

    static const char get[] = "get udpbench\r\n";
    unsigned long ops = 0, lost = 0;
    long long start = now_ms(), end = start + (long long)(secs * 1000);
    for (int i = 0; i < nc; i++)
        send_req(&cl[i], get, sizeof(get) - 1);
    for (;;) {
        long long t = now_ms();
        if (t >= end)
            break;
        int r = poll(pf, (nfds_t)nc, 10);
        t = now_ms();
        for (int i = 0; i < nc; i++) {
            if (r > 0 && (pf[i].revents & POLLIN) && drain(&cl[i])) {
                ops++;
                send_req(&cl[i], get, sizeof(get) - 1);
            } else if (t - cl[i].sent_ms > LOST_MS) {
                lost++;
                send_req(&cl[i], get, sizeof(get) - 1);
            }
        }
    }
    printf("ops %lu lost %lu secs %.3f\n", ops, lost, (now_ms() - start) / 1000.0);
    return 0;
}
