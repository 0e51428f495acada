/*
 * fixture.h - the request path on plain buffers for the server unit tests:
 * a real store (64 MB, no background thread), default settings, one
 * thread's counter blocks installed as the stats host, and sessions that
 * take bytes and give back the replies as one string. No socket, no
 * libevent. Include after <criterion/criterion.h>.
 */
#ifndef MCD_TESTS_SERVER_FIXTURE_H
#define MCD_TESTS_SERVER_FIXTURE_H

#include "proto/reply.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"
#include "store/store.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One thread's counters, shared by every session of a test. */
static struct store_tstats fx_ts, fx_scratch;
static struct worker_tstats fx_ws;

/* Default settings (plus `extra`, e.g. "-A"), a fresh store at clock 100. */
static inline void fx_start_with(const char *extra)
{
    char *argv[4] = {"mcd", (char *)extra, NULL, NULL};
    cr_assert_eq(settings_parse(extra != NULL ? 2 : 1, argv), SETTINGS_RUN);
    struct store_options o = {
        .mem_limit = 64u << 20, .item_size_max = 1u << 20, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 8,
    };
    cr_assert_eq(store_setup(&o), 0);
    store_clock_set(100);
    stats_set_one_thread(&fx_ts, &fx_ws);
}

static inline void fx_start(void)
{
    fx_start_with(NULL);
}

static inline void fx_stop(void)
{
    store_teardown();
}

static inline void fx_session(struct session *s, enum proto_binding proto)
{
    cr_assert_eq(session_init(s, proto, &fx_ts, &fx_scratch, &fx_ws), 0);
}

/* A growing byte string (the replies received so far). */
struct fx_buf {
    char *p;
    size_t len, cap;
};

static inline void fx_buf_add(struct fx_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* "Sends" every pending reply: appends it to b and consumes it, as a
 * socket that takes everything would. */
static inline void fx_drain(struct session *s, struct fx_buf *b)
{
    size_t n;
    const struct iovec *iov = reply_pending(&s->out, &n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        fx_buf_add(b, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    if (b->p == NULL)
        fx_buf_add(b, "", 0);
    reply_consume(&s->out, total);
}

/*
 * Feeds len bytes (all of them: runs the session whenever its buffer is
 * full) and runs it until it needs input or stops, draining the replies
 * into b as it goes. Returns why it stopped.
 */
static inline enum session_result fx_feed(struct session *s, const void *data, size_t len, struct fx_buf *b)
{
    const char *p = data;
    enum session_result r;
    for (;;) {
        size_t took = session_feed(s, p, len);
        p += took;
        len -= took;
        unsigned budget = UINT_MAX;
        do {
            r = session_run(s, &budget);
            fx_drain(s, b);
        } while (r == SESSION_OUTPUT_FULL);
        if (len == 0 || r != SESSION_NEED_INPUT)
            return r;
        cr_assert(took > 0, "the session takes no more input and wants more");
    }
}

/* The replies to `data` (a string) on session s, as a malloc'd string. */
static inline char *fx_talk(struct session *s, const char *data)
{
    struct fx_buf b = {0};
    fx_feed(s, data, strlen(data), &b);
    if (b.p == NULL)
        fx_buf_add(&b, "", 0);
    return b.p;
}

/* One text exchange on a fresh text session. */
static inline char *fx_text(const char *data)
{
    struct session s;
    fx_session(&s, PROTO_ASCII);
    char *r = fx_talk(&s, data);
    session_deinit(&s);
    return r;
}

/* The value of `stats` line `name` (from a text session), or -1. */
static inline long long fx_stat(const char *name)
{
    char *all = fx_text("stats\r\n");
    char pat[96];
    snprintf(pat, sizeof(pat), "STAT %s ", name);
    char *at = strstr(all, pat);
    long long v = at != NULL ? strtoll(at + strlen(pat), NULL, 10) : -1;
    free(all);
    return v;
}

/* Binary request header (24 bytes) + extras + key + value into out;
 * returns the packet length. */
static inline size_t fx_bin(uint8_t *out, uint8_t opcode, const void *extras, uint8_t extlen, const char *key,
                            const void *value, uint32_t vlen, uint32_t opaque, uint64_t cas)
{
    uint16_t klen = key != NULL ? (uint16_t)strlen(key) : 0;
    uint32_t body = extlen + klen + vlen;
    memset(out, 0, 24);
    out[0] = 0x80;
    out[1] = opcode;
    out[2] = (uint8_t)(klen >> 8);
    out[3] = (uint8_t)klen;
    out[4] = extlen;
    for (int i = 0; i < 4; i++) {
        out[8 + i] = (uint8_t)(body >> (24 - 8 * i));
        out[12 + i] = (uint8_t)(opaque >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++)
        out[16 + i] = (uint8_t)(cas >> (56 - 8 * i));
    size_t n = 24;
    if (extlen > 0)
        memcpy(out + n, extras, extlen);
    n += extlen;
    if (klen > 0)
        memcpy(out + n, key, klen);
    n += klen;
    if (vlen > 0)
        memcpy(out + n, value, vlen);
    return n + vlen;
}

/* Big-endian fields of a binary response. */
static inline uint16_t fx_be16(const char *p)
{
    return (uint16_t)((uint8_t)p[0] << 8 | (uint8_t)p[1]);
}

static inline uint32_t fx_be32(const char *p)
{
    return (uint32_t)fx_be16(p) << 16 | fx_be16(p + 2);
}

static inline uint64_t fx_be64(const char *p)
{
    return (uint64_t)fx_be32(p) << 32 | fx_be32(p + 4);
}

#endif /* MCD_TESTS_SERVER_FIXTURE_H */
