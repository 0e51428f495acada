/*
 * burst.c - load generator for the syscall guard: stores K keys, then sends
 * B bursts of P pipelined `get`s (one send() per burst) and reads each
 * burst's P replies before the next. Deterministic request count, so the
 * server's syscalls per request can be counted from outside (strace -c).
 *
 * usage: burst PORT KEYS BURSTS PIPELINE [set]   ("set": only store the keys)
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_port(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, 0);
        if (w <= 0) {
            perror("send");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until `count` occurrences of `marker` have arrived. */
static void await(int fd, const char *marker, int count)
{
    char buf[65536];
    size_t have = 0, mlen = strlen(marker);
    int seen = 0;
    while (seen < count) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0) {
            fprintf(stderr, "burst: connection closed\n");
            exit(2);
        }
        have += (size_t)r;
        char *p = buf, *end = buf + have, *hit;
        while ((hit = memmem(p, (size_t)(end - p), marker, mlen)) != NULL) {
            seen++;
            p = hit + mlen;
        }
        /* keep a tail that may hold a split marker */
        size_t rest = have - (size_t)(p - buf);
        size_t keep = rest < mlen - 1 ? rest : mlen - 1;
        memmove(buf, buf + (have - keep), keep);
        have = keep;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: burst PORT KEYS BURSTS PIPELINE [set]\n");
        return 2;
    }
    int port = atoi(argv[1]), keys = atoi(argv[2]), bursts = atoi(argv[3]), pipe = atoi(argv[4]);
    int fd = connect_port(port);
    char cmd[256];

    if (argc > 5 && strcmp(argv[5], "set") == 0) {
        for (int k = 0; k < keys; k++) {
            int n = snprintf(cmd, sizeof(cmd), "set key:%d 0 0 32\r\n%032d\r\n", k, k);
            send_all(fd, cmd, (size_t)n);
            await(fd, "STORED\r\n", 1);
        }
        return 0;
    }
    char *req = malloc((size_t)pipe * 32);
    for (int b = 0; b < bursts; b++) {
        size_t len = 0;
        for (int i = 0; i < pipe; i++)
            len += (size_t)sprintf(req + len, "get key:%d\r\n", (b * pipe + i) % keys);
        send_all(fd, req, len);
        await(fd, "END\r\n", pipe);
    }
    free(req);
    close(fd);
    return 0;
}
