/*
 * mover-latency.c - how long a client waits while pages move: the load of
 * bench/mover-latency.sh, against any memcached-compatible server.
 *
 *   mover-latency PORT SECONDS CLIENTS KEYS [MODE]
 *
 * MODE 1 (the default): fills KEYS keys of 10-byte values (class 1: about
 * 10,000 chunks a page), then for SECONDS runs CLIENTS threads, each on its
 * own connection, doing get or set (10-byte values) of random keys and
 * timing every request, while one more connection moves pages of class 1
 * away and back (`slabs reassign 1 2`, `slabs reassign 2 1`, over and
 * over). MODE 0: the same with no reassign. MODE 2: test_slabs's shift of
 * sizes: 150,000 100-byte values, then cache-aside of 5-10 KB values over
 * KEYS keys (get; set on a miss: the longer of the two is timed), the
 * automover and the on-demand mover moving pages. Prints one line:
 * requests, the 50th, 99th and 99.9th percentiles and the longest request
 * in microseconds, the longest request's kind, and the pages the server
 * says it moved.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VLEN 10
#define NBUCKET 4096 /* latency histogram: 1 us buckets to 1 ms, then 1 ms ones */

static int port;
static unsigned nkeys;
static int mode; /* 0: no moves, 1: slabs reassign in a loop, 2: the shift of sizes */
static _Atomic bool stop;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int conn_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            perror("send");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the buffer ends with `end`; returns the length. */
static size_t read_until(int fd, char *buf, size_t cap, const char *end)
{
    size_t n = 0, el = strlen(end);
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) {
            fprintf(stderr, "connection lost\n");
            exit(1);
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (n >= el && memcmp(buf + n - el, end, el) == 0)
            return n;
        if (n + 1 >= cap) {
            fprintf(stderr, "reply too long\n");
            exit(1);
        }
    }
}

static uint64_t fill_max_us; /* the longest wait for a `version` after 1,000 noreply sets */

static void fill(unsigned n, int vlen)
{
    int fd = conn_open();
    char buf[256], rep[256];
    for (unsigned i = 0; i < n; i++) {
        int h = snprintf(buf, sizeof(buf), "set k:%u 0 0 %d noreply\r\n%0*u\r\n", i, vlen, vlen, i);
        send_all(fd, buf, (size_t)h);
        if (i % 1000 == 999 || i + 1 == n) {
            uint64_t t0 = now_us();
            send_all(fd, "version\r\n", 9);
            read_until(fd, rep, sizeof(rep), "\r\n");
            if (now_us() - t0 > fill_max_us)
                fill_max_us = now_us() - t0;
        }
    }
    close(fd);
}

struct client {
    pthread_t th;
    unsigned id;
    uint64_t n, max_us;
    bool max_is_set;
    uint64_t hist[NBUCKET];
};

static unsigned bucket(uint64_t us)
{
    uint64_t b = us < 1000 ? us : 1000 + (us - 1000) / 1000;
    return b < NBUCKET ? (unsigned)b : NBUCKET - 1;
}

static uint64_t bucket_us(unsigned b)
{
    return b < 1000 ? b : 1000 + (uint64_t)(b - 1000) * 1000;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    int fd = conn_open();
    char req[128];
    static _Thread_local char rep[16384], big[10240 + 128];
    unsigned x = 0x9e3779b9u * (cl->id + 1);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 8) % nkeys;
        if (mode == 2) { /* cache-aside of 5-10 KB values: get, set on a miss */
            snprintf(req, sizeof(req), "get big:%u\r\n", k);
            uint64_t t0 = now_us();
            send_all(fd, req, strlen(req));
            read_until(fd, rep, sizeof(rep), "END\r\n"); /* values are 'v's: no "END" inside */
            bool hit = strncmp(rep, "VALUE ", 6) == 0;
            uint64_t dt = now_us() - t0;
            bool set = false;
            if (!hit) {
                size_t len = 5000 + (k * 7919u) % 5000;
                int h = snprintf(big, 128, "set big:%u 0 0 %zu\r\n", k, len);
                memset(big + h, 'v', len);
                memcpy(big + h + len, "\r\n", 2);
                uint64_t t1 = now_us();
                send_all(fd, big, (size_t)h + len + 2);
                read_until(fd, rep, sizeof(rep), "\r\n");
                uint64_t ds = now_us() - t1;
                if (ds > dt)
                    dt = ds, set = true;
            }
            cl->hist[bucket(dt)]++;
            cl->n++;
            if (dt > cl->max_us) {
                cl->max_us = dt;
                cl->max_is_set = set;
            }
            continue;
        }
        bool set = x & 0x10000;
        int h = set ? snprintf(req, sizeof(req), "set k:%u 0 0 %d\r\n%0*u\r\n", k, VLEN, VLEN, x)
                    : snprintf(req, sizeof(req), "get k:%u\r\n", k);
        uint64_t t0 = now_us();
        send_all(fd, req, (size_t)h);
        read_until(fd, rep, sizeof(rep), set ? "\r\n" : "END\r\n");
        uint64_t dt = now_us() - t0;
        if (set && strcmp(rep, "STORED\r\n") != 0 && strncmp(rep, "SERVER_ERROR", 12) != 0) {
            fprintf(stderr, "unexpected reply to set: %s", rep);
            exit(1);
        }
        cl->hist[bucket(dt)]++;
        cl->n++;
        if (dt > cl->max_us) {
            cl->max_us = dt;
            cl->max_is_set = set;
        }
    }
    close(fd);
    return NULL;
}

/* The value of `name` in a `stats` reply. */
static long long stat_of(int fd, const char *name)
{
    static char rep[65536];
    send_all(fd, "stats\r\n", 7);
    read_until(fd, rep, sizeof(rep), "END\r\n");
    char pat[128];
    snprintf(pat, sizeof(pat), "STAT %s ", name);
    char *p = strstr(rep, pat);
    return p != NULL ? atoll(p + strlen(pat)) : -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT SECONDS CLIENTS KEYS [REASSIGN]\n", argv[0]);
        return 64;
    }
    port = atoi(argv[1]);
    int secs = atoi(argv[2]);
    unsigned nclients = (unsigned)atoi(argv[3]);
    nkeys = (unsigned)atoi(argv[4]);
    mode = argc < 6 ? 1 : atoi(argv[5]);
    bool reassign = mode == 1;
    if (mode == 2)
        fill(150000, 100);
    else
        fill(nkeys, VLEN);
    struct client *cl = calloc(nclients, sizeof(*cl));
    for (unsigned i = 0; i < nclients; i++) {
        cl[i].id = i;
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    int fd = conn_open();
    long long moved0 = stat_of(fd, "slabs_moved");
    char rep[256];
    uint64_t end = now_us() + (uint64_t)secs * 1000000u;
    unsigned ok = 0;
    for (unsigned i = 0; now_us() < end; i++) {
        if (reassign) {
            const char *r = i % 2 == 0 ? "slabs reassign 1 2\r\n" : "slabs reassign 2 1\r\n";
            send_all(fd, r, strlen(r));
            read_until(fd, rep, sizeof(rep), "\r\n");
            ok += strcmp(rep, "OK\r\n") == 0;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    atomic_store(&stop, true);
    uint64_t n = 0, max = 0;
    bool max_set = false;
    static uint64_t hist[NBUCKET];
    for (unsigned i = 0; i < nclients; i++) {
        pthread_join(cl[i].th, NULL);
        n += cl[i].n;
        if (cl[i].max_us > max) {
            max = cl[i].max_us;
            max_set = cl[i].max_is_set;
        }
        for (unsigned b = 0; b < NBUCKET; b++)
            hist[b] += cl[i].hist[b];
    }
    long long moved = stat_of(fd, "slabs_moved") - moved0;
    close(fd);
    double q[] = {0.5, 0.99, 0.999};
    uint64_t qv[3] = {0};
    uint64_t acc = 0;
    unsigned qi = 0;
    for (unsigned b = 0; b < NBUCKET && qi < 3; b++) {
        acc += hist[b];
        while (qi < 3 && (double)acc >= q[qi] * (double)n)
            qv[qi++] = bucket_us(b);
    }
    printf("requests=%llu p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu max_kind=%s reassign_ok=%u moved=%lld fill_max_us=%llu\n",
           (unsigned long long)n, (unsigned long long)qv[0], (unsigned long long)qv[1], (unsigned long long)qv[2],
           (unsigned long long)max, max_set ? "set" : "get", ok, moved, (unsigned long long)fill_max_us);
    free(cl);
    return 0;
}
