/*
 * cache_aside.c - cache-aside with stampede protection, using the meta
 * protocol's leases against mcd (or memcached).
 *
 *   usage: cache_aside [-h host] [-p port] [-c clients] [-k key] [-d backend_ms]
 *
 * Starts `clients` threads that all want the same key at once. Each asks
 *   mg <key> v t N30
 * N30 makes the server create an empty placeholder on a miss and hand the
 * "win" flag (W) to exactly one client: that client computes the value from
 * the (slow, simulated) backend and stores it with ms. The others see Z (a
 * winner is already at work) and poll until a real value appears, instead of
 * stampeding the backend. Prints how often the backend ran (1 is the goal)
 * and exits 0 when every client got the value.
 *
 * Plain blocking sockets and pthreads; no client library.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1";
static int port = 11211;
static const char *key = "cache_aside:report";
static int backend_ms = 200;
static atomic_int backend_calls;
static atomic_int served;
static pthread_barrier_t start;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The slow thing the cache protects. */
static void backend_compute(char *out, size_t cap)
{
    atomic_fetch_add(&backend_calls, 1);
    sleep_ms(backend_ms);
    snprintf(out, cap, "expensive result #%d", atomic_load(&backend_calls));
}

static int dial(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, res->ai_socktype, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one "\r\n"-terminated line into buf (without it). */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        if (recv(fd, &c, 1, 0) != 1)
            return -1;
        if (c == '\n') {
            if (n > 0 && buf[n - 1] == '\r')
                n--;
            buf[n] = '\0';
            return 0;
        }
        buf[n++] = c;
    }
    return -1;
}

static int read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Does the reply line carry flag f as a separate token? */
static int has_flag(const char *line, char f)
{
    for (const char *p = strchr(line, ' '); p != NULL; p = strchr(p + 1, ' '))
        if (p[1] == f && (p[2] == ' ' || p[2] == '\0'))
            return 1;
    return 0;
}

/* One client: returns 0 once it holds the value. */
static int fetch(int fd, char *value, size_t cap)
{
    char line[512], cmd[512];
    for (int attempt = 0; attempt < 500; attempt++) {
        snprintf(cmd, sizeof(cmd), "mg %s v t N30\r\n", key);
        if (send_all(fd, cmd, strlen(cmd)) != 0 || read_line(fd, line, sizeof(line)) != 0)
            return -1;
        if (strncmp(line, "VA ", 3) != 0)
            return -1; /* N makes a miss impossible */
        size_t len = strtoul(line + 3, NULL, 10);
        if (cap < 3 || len > cap - 3 || read_exact(fd, value, len + 2) != 0)
            return -1;
        value[len] = '\0';
        if (has_flag(line, 'W')) {
            /* we won: recompute and store; everyone else waits on us */
            char fresh[256];
            backend_compute(fresh, sizeof(fresh));
            snprintf(cmd, sizeof(cmd), "ms %s %zu T300\r\n%s\r\n", key, strlen(fresh), fresh);
            if (send_all(fd, cmd, strlen(cmd)) != 0 || read_line(fd, line, sizeof(line)) != 0)
                return -1;
            if (strcmp(line, "HD") != 0)
                return -1;
            snprintf(value, cap, "%s", fresh);
            return 0;
        }
        if (len > 0 && !has_flag(line, 'X'))
            return 0; /* a real, fresh value */
        /* Z: somebody else is recomputing; an empty placeholder is no use */
        sleep_ms(10);
    }
    return -1;
}

static void *client(void *arg)
{
    (void)arg;
    char value[512];
    int fd = dial();
    pthread_barrier_wait(&start);
    if (fd >= 0 && fetch(fd, value, sizeof(value)) == 0)
        atomic_fetch_add(&served, 1);
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int clients = 32, opt;
    while ((opt = getopt(argc, argv, "h:p:c:k:d:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': clients = atoi(optarg); break;
        case 'k': key = optarg; break;
        case 'd': backend_ms = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-h host] [-p port] [-c clients] [-k key] [-d backend_ms]\n", argv[0]);
            return 2;
        }
    }
    if (clients < 1 || clients > 1024)
        return 2;
    pthread_t *th = calloc((size_t)clients, sizeof(*th));
    pthread_barrier_init(&start, NULL, (unsigned)clients);
    for (int i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, client, NULL);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    free(th);
    printf("clients=%d served=%d backend_calls=%d\n", clients, atomic_load(&served), atomic_load(&backend_calls));
    return atomic_load(&served) == clients && atomic_load(&backend_calls) == 1 ? 0 : 1;
}
