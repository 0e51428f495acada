/* test_logbuf.c - the single-producer single-consumer ring of watch's log
 * records (server/logbuf.c): records come out whole and in order across
 * the wrap, a full ring drops and counts instead of blocking, and a
 * producer and a consumer thread running at once lose or reorder nothing
 * but what was counted as dropped. */
#include "config.h"

#include "server/logbuf.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static bool put(struct logbuf *b, uint64_t seq, size_t len)
{
    char *p = logbuf_reserve(b, len);
    if (p == NULL)
        return false;
    memset(p, 'a' + (int)(seq % 26), len);
    if (len >= sizeof(seq))
        memcpy(p, &seq, sizeof(seq));
    logbuf_commit(b, len, (uint32_t)(seq & 7), (int64_t)seq, 0);
    return true;
}

/* Takes the next record; checks it is `seq` of `len` bytes. */
static bool take(struct logbuf *b, uint64_t *seq, size_t *len)
{
    const char *text;
    const struct logbuf_rec *r = logbuf_peek(b, &text);
    if (r == NULL)
        return false;
    *len = r->len;
    memcpy(seq, text, sizeof(*seq));
    cr_assert_eq(r->sec, (int64_t)*seq);
    cr_assert_eq(r->stream, (uint32_t)(*seq & 7));
    for (size_t i = sizeof(*seq); i < r->len; i++)
        cr_assert_eq(text[i], 'a' + (int)(*seq % 26));
    logbuf_next_done(b, r);
    return true;
}

static size_t len_of(uint64_t seq)
{
    return 8 + (seq * 37) % 300;
}

Test(logbuf, in_order_across_many_wraps)
{
    struct logbuf *b = logbuf_create();
    cr_assert_not_null(b);
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 2000; round++) {
        for (int k = 0; k < 1 + round % 50; k++) {
            cr_assert(put(b, next_in, len_of(next_in)));
            next_in++;
        }
        uint64_t seq;
        size_t len;
        while (take(b, &seq, &len)) {
            cr_assert_eq(seq, next_out);
            cr_assert_eq(len, len_of(seq));
            next_out++;
        }
    }
    cr_expect_eq(next_out, next_in);
    cr_expect_eq(atomic_load(&b->dropped), 0);
    logbuf_destroy(b);
}

Test(logbuf, full_ring_drops_and_counts)
{
    struct logbuf *b = logbuf_create();
    cr_assert_not_null(b);
    uint64_t n = 0;
    while (put(b, n, 200))
        n++;
    cr_expect_gt(n, LOGBUF_SIZE / 300);
    cr_expect_lt(n, LOGBUF_SIZE / 200);
    cr_expect_eq(atomic_load(&b->dropped), 1);
    cr_expect_not(put(b, n, 200));
    cr_expect_eq(atomic_load(&b->dropped), 2);
    /* room again once the consumer took one */
    uint64_t seq;
    size_t len;
    cr_assert(take(b, &seq, &len));
    cr_expect_eq(seq, 0);
    cr_expect(put(b, n, 8));
    logbuf_destroy(b);
}

struct run {
    struct logbuf *b;
    uint64_t records;
    _Atomic bool done;
};

static void *producer(void *arg)
{
    struct run *r = arg;
    for (uint64_t s = 0; s < r->records; s++)
        (void)put(r->b, s, len_of(s));
    atomic_store(&r->done, true);
    return NULL;
}

Test(logbuf, producer_and_consumer_threads)
{
    struct run r = {.b = logbuf_create(), .records = 2000000};
    cr_assert_not_null(r.b);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, producer, &r), 0);
    uint64_t got = 0, last = 0;
    bool first = true;
    for (;;) {
        bool done = atomic_load(&r.done);
        uint64_t seq;
        size_t len;
        while (take(r.b, &seq, &len)) {
            cr_assert(first || seq > last, "%llu after %llu", (unsigned long long)seq, (unsigned long long)last);
            cr_assert_eq(len, len_of(seq));
            first = false;
            last = seq;
            got++;
        }
        if (done)
            break;
    }
    pthread_join(th, NULL);
    cr_expect_eq(got + atomic_load(&r.b->dropped), r.records);
    logbuf_destroy(r.b);
}
