/*
 * test_udp_hostile.c - hostile UDP senders: floods of garbage, oversize,
 * truncated and multi-datagram frames, storage commands whose value is not
 * there, binary headers announcing huge bodies. TCP clients keep getting
 * prompt replies meanwhile, valid UDP requests are still answered after,
 * and the server's memory stays flat.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/udpc.h"

#define FLOOD_DGRAMS 60000

struct flood {
    int port;
    atomic_bool stop;
    unsigned long sent;
};

/* xorshift: the same flood every run */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* One bad datagram of kind k into buf; returns its length. */
static size_t bad_datagram(unsigned k, uint32_t *rs, unsigned char *buf, size_t cap)
{
    uint16_t rid = (uint16_t)next_rand(rs);
    unsigned char hdr[8] = {(unsigned char)(rid >> 8), (unsigned char)rid, 0, 0, 0, 1, 0, 0};
    size_t n;
    memcpy(buf, hdr, 8);
    switch (k % 9) {
    case 0: /* garbage of random length, often shorter than a header */
        n = next_rand(rs) % 1500;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)next_rand(rs);
        return n;
    case 1: /* the largest datagram: a line with no end */
        memset(buf + 8, 'g', cap - 8);
        return cap;
    case 2: /* a value that is not in the datagram */
        n = (size_t)snprintf((char *)buf + 8, cap - 8, "set k%u 0 0 70000\r\nxx", next_rand(rs) % 100);
        return 8 + n;
    case 3: /* a request in several datagrams */
        buf[5] = (unsigned char)(2 + next_rand(rs) % 5);
        buf[3] = (unsigned char)(next_rand(rs) % 3);
        n = (size_t)snprintf((char *)buf + 8, cap - 8, "get k1\r\n");
        return 8 + n;
    case 4: /* a binary header announcing a huge body */
        memset(buf + 8, 0, 24);
        buf[8] = 0x80;
        buf[9] = 0x01;
        buf[11] = 5;
        buf[12] = 8;
        buf[16] = 0x7f;
        buf[17] = 0xff;
        return 8 + 24 + 13;
    case 5: /* a valid get of a big value, answered (amplification) */
        n = (size_t)snprintf((char *)buf + 8, cap - 8, "get big\r\n");
        return 8 + n;
    case 6: /* a multi-key get line cut before its end */
        n = 8;
        while (n + 8 < cap / 4)
            n += (size_t)snprintf((char *)buf + n, cap - n, "k%u ", next_rand(rs) % 1000);
        memcpy(buf + 8, "get ", 4);
        return n;
    case 7: /* bad storage lines and a bad data chunk */
        n = (size_t)snprintf((char *)buf + 8, cap - 8, "set a 0 0 -1\r\nset b 0 0 2\r\nxxyy\r\nincr\r\n");
        return 8 + n;
    default: /* header only, or one byte of one */
        return next_rand(rs) % 2 ? 8 : 1;
    }
}

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    static unsigned char buf[65507];
    uint32_t rs = 0x9e3779b9;
    int fd = udpc_open();
    if (fd < 0)
        return NULL;
    for (unsigned long i = 0; i < FLOOD_DGRAMS && !atomic_load(&f->stop); i++) {
        size_t n = bad_datagram((unsigned)i, &rs, buf, sizeof(buf));
        if (udpc_send_raw(fd, f->port, buf, n))
            f->sent++;
    }
    close(fd);
    return NULL;
}

Test(udp_hostile, flood_keeps_tcp_prompt_and_memory_flat, .timeout = 120)
{
    static const char *const flags[] = {"-t", "2", NULL};
    int port;
    struct mcd_server *srv = udpc_start(NULL, flags, &port);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *block = mcd_data_block(200000, 'b');
    cr_assert(mcd_sendstr(c, "set big 0 0 200000\r\n") && mcd_send(c, block, 200002));
    cr_assert(mcd_expectstr(c, "STORED\r\n"));
    free(block);

    /* a warm-up flood, so that the baseline has every buffer already */
    struct flood f = {.port = port};
    pthread_t t;
    pthread_create(&t, NULL, flood_main, &f);
    pthread_join(t, NULL);
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION 1.6.45\r\n"));
    long rss0 = mcd_rss_kb(srv->pid);

    f = (struct flood){.port = port};
    pthread_create(&t, NULL, flood_main, &f);
    long long worst = 0;
    unsigned rounds = 0;
    long long deadline = mcd_now_ms() + 60000;
    while (mcd_now_ms() < deadline) {
        long long t0 = mcd_now_ms();
        cr_assert(mcd_roundtrip(c, "get big\r\nversion\r\n", "VALUE big 0 200000\r\n{str}\r\nEND\r\nVERSION 1.6.45\r\n"));
        long long dt = mcd_now_ms() - t0;
        if (dt > worst)
            worst = dt;
        rounds++;
        if (f.sent >= FLOOD_DGRAMS)
            break;
    }
    atomic_store(&f.stop, true);
    pthread_join(t, NULL);
    cr_log_info("%lu bad datagrams, %u TCP round trips, slowest %lld ms", f.sent, rounds, worst);
    cr_expect_gt(rounds, 0);
    cr_expect_lt(worst, 1000, "a TCP round trip took %lld ms during the flood", worst);
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION 1.6.45\r\n"));

    /* UDP still answers. A request sent while the socket's receive queue
     * is still full of the flood is dropped by the kernel, as any datagram
     * may be: a client asks again (ids 77, 78, ...), as UDP clients do */
    int fd = udpc_open();
    struct udpc_reply r;
    size_t got = 0;
    for (uint16_t id = 77; id < 77 + 10 && got != 1; id++) {
        cr_assert(udpc_send(fd, port, id, 0, 1, 0, "version\r\n", 9));
        got = udpc_collect(fd, id, 1000, 40, &r);
        udpc_reply_free(&r);
    }
    cr_expect_eq(got, (size_t)1, "no UDP answer to 10 requests after the flood");
    close(fd);

    long rss1 = mcd_rss_kb(srv->pid);
    cr_log_info("RSS %ld KB before the flood, %ld KB after", rss0, rss1);
    if (MCD_RSS_ASSERTED)
        cr_expect_lt(rss1 - rss0, 8 * 1024, "RSS grew by %ld KB over the flood", rss1 - rss0);
    mcd_conn_close(c);
    mcd_kill(srv);
}

struct bigget {
    int port;
    size_t nkeys;
};

static void *bigget_main(void *arg)
{
    struct bigget *b = arg;
    size_t cap = 8 + 4 + b->nkeys * 4 + 2;
    char *line = malloc(cap);
    if (line == NULL)
        return NULL;
    size_t n = 0;
    n += (size_t)snprintf(line, cap, "get");
    for (size_t i = 0; i < b->nkeys; i++)
        n += (size_t)snprintf(line + n, cap - n, " big");
    n += (size_t)snprintf(line + n, cap - n, "\r\n");
    int fd = udpc_open();
    if (fd >= 0) {
        udpc_send(fd, b->port, 1, 0, 1, 0, line, n);
        close(fd);   /* nobody reads the replies */
    }
    free(line);
    return NULL;
}

/* One datagram asking for a gigabyte (a get naming a 1 MB value 1000
 * times) is sent a megabyte per turn of the event loop: a TCP client of the
 * same worker keeps getting replies meanwhile. */
Test(udp_hostile, huge_multiget_datagram_does_not_stall_tcp, .timeout = 120)
{
    static const char *const flags[] = {"-t", "1", NULL};
    int port;
    struct mcd_server *srv = udpc_start(NULL, flags, &port);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    size_t size = 1024 * 1024 - 512;
    char *block = mcd_data_block(size, 'b');
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "set big 0 0 %zu\r\n", size);
    cr_assert(mcd_sendstr(c, hdr) && mcd_send(c, block, size + 2));
    cr_assert(mcd_expectstr(c, "STORED\r\n"));
    free(block);

    long long bytes0 = mcd_stat_ll(c, NULL, "bytes_written");
    struct bigget b = {.port = port, .nkeys = 1000};
    pthread_t t;
    pthread_create(&t, NULL, bigget_main, &b);
    pthread_join(t, NULL);
    long long worst = 0, sent = 0;
    long long deadline = mcd_now_ms() + 60000;
    unsigned rounds = 0;
    while (mcd_now_ms() < deadline) {
        long long t0 = mcd_now_ms();
        cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION 1.6.45\r\n"));
        long long dt = mcd_now_ms() - t0;
        if (dt > worst)
            worst = dt;
        rounds++;
        sent = mcd_stat_ll(c, NULL, "bytes_written") - bytes0;
        if (sent >= (long long)(b.nkeys * size))
            break;
    }
    cr_log_info("%lld bytes sent over UDP, %u TCP round trips meanwhile, slowest %lld ms", sent, rounds, worst);
    cr_expect_geq(sent, (long long)(b.nkeys * size), "the reply was not sent in full");
    /* Without the turn-by-turn sending, the whole gigabyte goes out before
     * the first round trip is answered (1 round trip, over a second). The
     * round trips are counted rather than timed: on a loaded machine one
     * may wait for a CPU for a while anyway. */
    cr_expect_gt(rounds, 50, "only %u TCP round trips while the reply went out", rounds);
    cr_expect_lt(worst, 3000, "a TCP round trip took %lld ms while the reply went out", worst);
    mcd_conn_close(c);
    mcd_kill(srv);
}
