/*
 * http_client.h - the little HTTP/1.0 client the metrics tests need: one
 * request on a fresh loopback connection, the whole response read until
 * the server closes, under a deadline. Header-only (static functions).
 */
#ifndef MCD_TEST_HTTP_CLIENT_H
#define MCD_TEST_HTTP_CLIENT_H

#include "tests/lib/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port nothing listens on now (bound then released). */
static inline int http_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A connected loopback socket, or -1. */
static inline int http_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads fd until EOF or the deadline; returns a malloc'd string (NULL on
 * timeout). */
static inline char *http_read_all(int fd, int timeout_ms)
{
    long long deadline = mcd_now_ms() + timeout_ms;
    size_t len = 0, cap = 8192;
    char *buf = malloc(cap);
    for (;;) {
        long long left = deadline - mcd_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (buf == NULL || left <= 0 || poll(&p, 1, (int)left) <= 0) {
            free(buf);
            return NULL;
        }
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)n;
    }
}

/* Sends the raw request and returns the raw response (status line,
 * headers, body), or NULL. */
static inline char *http_raw(int port, const char *request, int timeout_ms)
{
    int fd = http_connect(port);
    if (fd < 0)
        return NULL;
    size_t off = 0, n = strlen(request);
    while (off < n) {
        ssize_t w = send(fd, request + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        off += (size_t)w;
    }
    char *r = http_read_all(fd, timeout_ms);
    close(fd);
    return r;
}

/* GET path; returns the body of a response whose status is `status` (NULL
 * otherwise). */
static inline char *http_get(int port, const char *path, int status, int timeout_ms)
{
    char req[4096];
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    char *r = http_raw(port, req, timeout_ms);
    char want[32];
    snprintf(want, sizeof(want), " %d ", status);
    char *body = r != NULL ? strstr(r, "\r\n\r\n") : NULL;
    char *eol = r != NULL ? strstr(r, "\r\n") : NULL;
    if (body == NULL || eol == NULL || strstr(r, want) == NULL || strstr(r, want) > eol) {
        free(r);
        return NULL;
    }
    memmove(r, body + 4, strlen(body + 4) + 1);
    return r;
}

#endif /* MCD_TEST_HTTP_CLIENT_H */
