/* test_logbuf.c - the single-producer single-consumer ring of watch's log
 * records (server/logbuf.c): records come out whole and in order across
 * the wrap, a full ring drops and counts instead of blocking, and a
 * producer and a consumer thread running at once lose or reorder nothing
 * but what was counted as dropped. The ring's size (-o worker_logbuf_size)
 * is a power of two from 4 KB to 1 GB, and a ring of any size holds,
 * wraps and drops as that size says. */
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

#define HDR sizeof(struct logbuf_rec)

/* Puts bursts of up to `burst` records and drains them, many times round
 * a ring of `size`: all come out, in order, none dropped. */
static void wraps_in_order(size_t size, int burst, size_t (*len_fn)(uint64_t))
{
    struct logbuf *b = logbuf_create(size);
    cr_assert_not_null(b);
    cr_assert_eq(b->size, size);
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 2000; round++) {
        for (int k = 0; k < 1 + round % burst; k++) {
            cr_assert(put(b, next_in, len_fn(next_in)), "record %llu of %zu bytes in a %zu-byte ring",
                      (unsigned long long)next_in, len_fn(next_in), size);
            next_in++;
        }
        uint64_t seq;
        size_t len;
        while (take(b, &seq, &len)) {
            cr_assert_eq(seq, next_out);
            cr_assert_eq(len, len_fn(seq));
            next_out++;
        }
    }
    cr_expect_eq(next_out, next_in);
    cr_expect_eq(atomic_load(&b->dropped), 0);
    /* went round many times */
    cr_expect_gt(atomic_load(&b->tail), 20 * (uint64_t)size);
    logbuf_destroy(b);
}

Test(logbuf, in_order_across_many_wraps)
{
    wraps_in_order(LOGBUF_DEFAULT_SIZE, 50, len_of);
}

/* watch's longest records: 1024 bytes of text, a record at most half of
 * the smallest ring */
static size_t len_long(uint64_t seq)
{
    return seq % 3 == 0 ? LOGBUF_REC_MAX : 8 + (seq * 101) % LOGBUF_REC_MAX;
}

Test(logbuf, smallest_ring_wraps_with_the_longest_records)
{
    wraps_in_order(LOGBUF_MIN_SIZE, 2, len_long);
    wraps_in_order(8192, 4, len_of);
}

Test(logbuf, size_is_a_power_of_two_from_4k_to_1g)
{
    cr_expect_eq(logbuf_ring_size(0), 4096);
    cr_expect_eq(logbuf_ring_size(1), 4096);
    cr_expect_eq(logbuf_ring_size(4096), 4096);
    cr_expect_eq(logbuf_ring_size(4097), 8192);
    cr_expect_eq(logbuf_ring_size(32 * 1024), 32 * 1024);
    cr_expect_eq(logbuf_ring_size(100 * 1024), 128 * 1024);
    cr_expect_eq(logbuf_ring_size(65536), LOGBUF_DEFAULT_SIZE);
    cr_expect_eq(logbuf_ring_size((1u << 30) - 1), 1u << 30);
    cr_expect_eq(logbuf_ring_size(1u << 30), 1u << 30);
    cr_expect_eq(logbuf_ring_size((1ull << 30) + 1), 1u << 30);
    cr_expect_eq(logbuf_ring_size(UINT64_MAX), LOGBUF_MAX_SIZE);
    struct logbuf *b = logbuf_create(5000);
    cr_assert_not_null(b);
    cr_expect_eq(b->size, 8192);
    logbuf_destroy(b);
}

/* A full ring of `size` holds exactly size / (header + 200) records of 200
 * bytes, then drops and counts; the space a taken record frees is used
 * again, across the end of the ring. */
static void drops_as_its_size_says(size_t size)
{
    struct logbuf *b = logbuf_create(size);
    cr_assert_not_null(b);
    uint64_t n = 0;
    while (put(b, n, 200))
        n++;
    cr_expect_eq(n, size / (HDR + 200), "%zu-byte ring: %llu records", size, (unsigned long long)n);
    cr_expect_eq(atomic_load(&b->dropped), 1);
    cr_expect_not(put(b, n, 200));
    cr_expect_eq(atomic_load(&b->dropped), 2);
    /* what is left at the end (less than a record) still takes a short one */
    size_t tail_room = size % (HDR + 200);
    cr_expect_eq(put(b, n, 8), tail_room >= HDR + 8);
    uint64_t seq;
    size_t len;
    cr_assert(take(b, &seq, &len));
    cr_expect_eq(seq, 0);
    /* one taken: one more fits, after the end (the wrap) */
    cr_expect(put(b, n + 1, 200));
    cr_expect_not(put(b, n + 2, 200));
    uint64_t want = 1;
    while (take(b, &seq, &len)) {
        if (want == n && tail_room < HDR + 8)
            want++;          /* the short one was dropped */
        cr_expect_eq(seq, want, "%zu-byte ring", size);
        want++;
    }
    cr_expect_eq(want, n + 2);
    logbuf_destroy(b);
}

Test(logbuf, full_ring_drops_as_its_size_says)
{
    drops_as_its_size_says(LOGBUF_MIN_SIZE);
    drops_as_its_size_says(8192);
    drops_as_its_size_says(LOGBUF_DEFAULT_SIZE);
    drops_as_its_size_says(1u << 20);
}

/* A record takes at most half the ring, whatever its size. */
Test(logbuf, a_record_takes_at_most_half_the_ring)
{
    size_t sizes[] = {LOGBUF_MIN_SIZE, LOGBUF_DEFAULT_SIZE, 1u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct logbuf *b = logbuf_create(sizes[i]);
        cr_assert_not_null(b);
        size_t most = sizes[i] / 2 - HDR;
        cr_expect_null(logbuf_reserve(b, most + 1), "%zu-byte ring", sizes[i]);
        cr_expect_eq(atomic_load(&b->dropped), 1);
        cr_expect(put(b, 0, most), "%zu-byte ring", sizes[i]);
        logbuf_destroy(b);
    }
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

/* A producer thread and a consumer on a ring of `size`. */
static void threads_on(size_t size, uint64_t records)
{
    struct run r = {.b = logbuf_create(size), .records = records};
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

Test(logbuf, producer_and_consumer_threads)
{
    threads_on(LOGBUF_DEFAULT_SIZE, 2000000);
}

Test(logbuf, producer_and_consumer_threads_on_the_smallest_ring)
{
    threads_on(LOGBUF_MIN_SIZE, 1000000);
}
