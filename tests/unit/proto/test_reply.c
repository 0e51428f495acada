/*
 * test_reply.c - the reply builder: merging, references, owners released
 * exactly once whatever the write sizes, partial iovecs, clear, shrink.
 */
#include "config.h"

#include "proto/reply.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owners are small counters: release() bumps the one it is given. */
static int released[8];

static void count_release(void *owner)
{
    int *c = owner;
    (*c)++;
}

static void reset_counts(void)
{
    memset(released, 0, sizeof(released));
}

/* The pending bytes, concatenated (caller frees). */
static char *flatten(const struct reply *r, size_t *len)
{
    size_t n;
    const struct iovec *iov = reply_pending(r, &n);
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    char *out = malloc(total + 1);
    cr_assert_not_null(out);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    out[off] = '\0';
    *len = total;
    return out;
}

static void assert_pending(const struct reply *r, const char *want)
{
    size_t len;
    char *got = flatten(r, &len);

    cr_assert_eq(len, strlen(want), "pending %zu bytes, want %zu", len, strlen(want));
    cr_assert_eq(r->bytes, len, "r->bytes %zu != %zu", r->bytes, len);
    cr_assert(memcmp(got, want, len) == 0, "pending [%s] want [%s]", got, want);
    free(got);
}

Test(reply, empty)
{
    struct reply r;
    size_t n;

    reply_init(&r, count_release);
    cr_assert(reply_empty(&r));
    reply_pending(&r, &n);
    cr_assert_eq(n, 0);
    reply_consume(&r, 0);
    cr_assert(reply_empty(&r));
    reply_deinit(&r);
}

Test(reply, adjacent_copies_merge)
{
    struct reply r;
    size_t n;

    reply_init(&r, NULL);
    cr_assert_eq(reply_add_copy(&r, "VALUE ", 6), 0);
    cr_assert_eq(reply_add_copy(&r, "k 0 1\r\n", 7), 0);
    cr_assert_eq(reply_printf(&r, "%s-%d", "x", 42), 0);
    reply_pending(&r, &n);
    cr_assert_eq(n, 1, "copies must merge into one iovec, got %zu", n);
    assert_pending(&r, "VALUE k 0 1\r\nx-42");

    /* a static breaks the run; the next copy starts a new iovec */
    cr_assert_eq(reply_add_static(&r, "END\r\n"), 0);
    cr_assert_eq(reply_add_copy(&r, "A", 1), 0);
    cr_assert_eq(reply_add_copy(&r, "B", 1), 0);
    reply_pending(&r, &n);
    cr_assert_eq(n, 3);
    assert_pending(&r, "VALUE k 0 1\r\nx-42END\r\nAB");
    reply_deinit(&r);
}

Test(reply, static_and_ref_are_not_copied)
{
    struct reply r;
    static const char s[] = "STORED\r\n";
    char value[] = "hello";
    size_t n;

    reply_init(&r, count_release);
    reset_counts();
    cr_assert_eq(reply_add_static(&r, s), 0);
    cr_assert_eq(reply_add_ref(&r, value, 5, &released[0]), 0);
    const struct iovec *iov = reply_pending(&r, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(iov[0].iov_base, (void *)s);
    cr_assert_eq(iov[1].iov_base, (void *)value);
    cr_assert_eq(iov[1].iov_len, 5);
    /* a copy after a ref with an owner must not merge into it */
    cr_assert_eq(reply_add_copy(&r, "\r\n", 2), 0);
    reply_pending(&r, &n);
    cr_assert_eq(n, 3);
    cr_assert_eq(released[0], 0);
    reply_deinit(&r);
    cr_assert_eq(released[0], 1, "deinit releases what is unsent");
}

/* A get-like reply with two owned values between copies and statics. */
static const char full[] = "VALUE a 0 5\r\nhello\r\nVALUE b 0 3\r\nxyz\r\nEND\r\n";
static const size_t a_end = 13 + 5;        /* last byte of "hello" */
static const size_t b_end = 13 + 5 + 2 + 13 + 3;

static void build(struct reply *r)
{
    cr_assert_eq(reply_add_copy(r, "VALUE a 0 5\r\n", 13), 0);
    cr_assert_eq(reply_add_ref(r, "hello", 5, &released[0]), 0);
    cr_assert_eq(reply_add_copy(r, "\r\nVALUE b 0 3\r\n", 15), 0);
    cr_assert_eq(reply_add_ref(r, "xyz", 3, &released[1]), 0);
    cr_assert_eq(reply_add_static(r, "\r\nEND\r\n"), 0);
}

Test(reply, owners_released_once_at_every_split)
{
    size_t total = strlen(full);

    for (size_t k = 0; k <= total; k++) {
        struct reply r;
        reply_init(&r, count_release);
        reset_counts();
        build(&r);
        assert_pending(&r, full);

        reply_consume(&r, k);
        cr_assert_eq(released[0], k >= a_end ? 1 : 0, "split %zu: owner a released %d", k, released[0]);
        cr_assert_eq(released[1], k >= b_end ? 1 : 0, "split %zu: owner b released %d", k, released[1]);
        assert_pending(&r, full + k);

        reply_consume(&r, total - k);
        cr_assert_eq(released[0], 1, "split %zu", k);
        cr_assert_eq(released[1], 1, "split %zu", k);
        cr_assert(reply_empty(&r));
        reply_deinit(&r);
        cr_assert_eq(released[0], 1, "deinit must not release again");
        cr_assert_eq(released[1], 1);
    }
}

Test(reply, consume_byte_by_byte)
{
    struct reply r;
    size_t total = strlen(full);

    reply_init(&r, count_release);
    reset_counts();
    build(&r);
    for (size_t k = 1; k <= total; k++) {
        reply_consume(&r, 1);
        cr_assert_eq(released[0], k >= a_end ? 1 : 0, "after %zu bytes", k);
        cr_assert_eq(released[1], k >= b_end ? 1 : 0, "after %zu bytes", k);
        assert_pending(&r, full + k);
    }
    cr_assert(reply_empty(&r));
    reply_deinit(&r);
    cr_assert_eq(released[0], 1);
    cr_assert_eq(released[1], 1);
}

Test(reply, partial_consume_adjusts_iovec)
{
    struct reply r;
    char value[] = "0123456789";
    size_t n;

    reply_init(&r, count_release);
    reset_counts();
    cr_assert_eq(reply_add_ref(&r, value, 10, &released[0]), 0);
    reply_consume(&r, 4);
    const struct iovec *iov = reply_pending(&r, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(iov[0].iov_base, (void *)(value + 4));
    cr_assert_eq(iov[0].iov_len, 6);
    cr_assert_eq(r.bytes, 6);
    cr_assert_eq(released[0], 0);
    reply_consume(&r, 6);
    cr_assert_eq(released[0], 1);
    cr_assert(reply_empty(&r));
    reply_deinit(&r);
    cr_assert_eq(released[0], 1);
}

Test(reply, empty_ref_with_owner_is_released)
{
    struct reply r;

    reply_init(&r, count_release);
    reset_counts();
    cr_assert_eq(reply_add_copy(&r, "VALUE k 0 0\r\n", 13), 0);
    cr_assert_eq(reply_add_ref(&r, "", 0, &released[0]), 0);
    cr_assert_eq(reply_add_copy(&r, "\r\n", 2), 0);
    reply_consume(&r, 12);
    cr_assert_eq(released[0], 0);
    reply_consume(&r, 1); /* the header is sent: the empty value is too */
    cr_assert_eq(released[0], 1);
    reply_consume(&r, 2);
    cr_assert(reply_empty(&r));
    reply_deinit(&r);
    cr_assert_eq(released[0], 1);
}

Test(reply, clear_releases_and_stays_usable)
{
    struct reply r;

    reply_init(&r, count_release);
    reset_counts();
    build(&r);
    reply_consume(&r, a_end); /* a sent */
    cr_assert_eq(released[0], 1);
    reply_clear(&r);
    cr_assert(reply_empty(&r));
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(released[0], 1, "a must not be released twice");
    cr_assert_eq(released[1], 1, "b is released by clear");

    cr_assert_eq(reply_add_copy(&r, "OK\r\n", 4), 0);
    assert_pending(&r, "OK\r\n");
    reply_deinit(&r);
    cr_assert_eq(released[0], 1);
    cr_assert_eq(released[1], 1);
}

Test(reply, shrinks_after_large_reply)
{
    struct reply r;
    char chunk[1000];

    memset(chunk, 'x', sizeof(chunk));
    reply_init(&r, NULL);
    cr_assert_eq(reply_add_copy(&r, "a", 1), 0);
    size_t base = reply_arena_bytes(&r);
    cr_assert_gt(base, 0);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(reply_add_copy(&r, chunk, sizeof(chunk)), 0);
        cr_assert_eq(reply_add_static(&r, "|"), 0); /* many iovecs too */
    }
    /* one piece bigger than a block gets a block of its own */
    char *big = malloc(100000);
    cr_assert_not_null(big);
    memset(big, 'y', 100000);
    cr_assert_eq(reply_add_copy(&r, big, 100000), 0);
    cr_assert_eq(r.bytes, 1 + 1000 * 1001 + 100000);
    cr_assert_gt(reply_arena_bytes(&r), 1000000);
    cr_assert_gt(r.cap, 2000);

    /* the last block holds the whole big piece in one iovec */
    size_t n;
    const struct iovec *iov = reply_pending(&r, &n);
    cr_assert_eq(iov[n - 1].iov_len, 100000);
    cr_assert(memcmp(iov[n - 1].iov_base, big, 100000) == 0);

    /* send it all in odd-sized writes */
    size_t left = r.bytes;
    while (left > 0) {
        size_t w = left < 4099 ? left : 4099;
        reply_consume(&r, w);
        left -= w;
    }
    cr_assert(reply_empty(&r));
    cr_assert_leq(reply_arena_bytes(&r), base, "arena must shrink to one block");
    cr_assert_leq(r.cap, 1024, "iov arrays must shrink");
    cr_assert_eq(reply_add_copy(&r, "END\r\n", 5), 0);
    assert_pending(&r, "END\r\n");
    free(big);
    reply_deinit(&r);
}

Test(reply, arena_blocks_never_move)
{
    struct reply r;
    char chunk[300];
    size_t n;

    reply_init(&r, NULL);
    cr_assert_eq(reply_add_copy(&r, "first", 5), 0);
    const struct iovec *iov = reply_pending(&r, &n);
    const void *first = iov[0].iov_base;
    for (int i = 0; i < 200; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        cr_assert_eq(reply_add_copy(&r, chunk, sizeof(chunk)), 0);
    }
    iov = reply_pending(&r, &n);
    cr_assert_gt(n, 1, "several blocks are in use");
    cr_assert_eq(iov[0].iov_base, first);
    cr_assert(memcmp(first, "first", 5) == 0);
    /* each iovec's content is what was written, in order */
    size_t len;
    char *flat = flatten(&r, &len);
    cr_assert_eq(len, 5 + 200 * 300);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(flat[5 + i * 300 + 299], 'a' + i % 26);
    free(flat);
    reply_deinit(&r);
}

Test(reply, interleaved_add_and_consume_keeps_order)
{
    struct reply r;
    char expect[64];
    size_t n;

    /* a connection that never fully drains: the arrays must compact */
    reply_init(&r, count_release);
    reset_counts();
    for (int i = 0; i < 5000; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof(buf), "%04d", i % 10000);
        cr_assert_eq(reply_add_static(&r, "<"), 0);
        cr_assert_eq(reply_add_copy(&r, buf, (size_t)len), 0);
        if (r.bytes > 20)
            reply_consume(&r, 5);
    }
    cr_assert_leq(r.cap, 64, "pending stays small, so must the arrays (cap %zu)", r.cap);
    reply_pending(&r, &n);
    snprintf(expect, sizeof(expect), "%04d", 4999);
    size_t len;
    char *flat = flatten(&r, &len);
    cr_assert(len >= 4 && memcmp(flat + len - 4, expect, 4) == 0, "tail [%s]", flat);
    free(flat);
    reply_deinit(&r);
}

Test(reply, big_printf)
{
    struct reply r;
    char big[6000];

    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    reply_init(&r, NULL);
    cr_assert_eq(reply_add_copy(&r, "head", 4), 0);
    cr_assert_eq(reply_printf(&r, "[%s]", big), 0);
    cr_assert_eq(r.bytes, 4 + 2 + sizeof(big) - 1);
    size_t len;
    char *flat = flatten(&r, &len);
    cr_assert(memcmp(flat, "head[zz", 7) == 0);
    cr_assert_eq(flat[len - 1], ']');
    cr_assert_eq(flat[len - 2], 'z');
    free(flat);
    reply_deinit(&r);
}

Test(reply, reserve_and_commit)
{
    struct reply r;
    size_t n;

    reply_init(&r, NULL);
    cr_assert_eq(reply_add_copy(&r, "ab", 2), 0);
    char *p = reply_reserve(&r, 10);
    cr_assert_not_null(p);
    memcpy(p, "cde", 3);
    reply_commit(&r, 3);
    reply_pending(&r, &n);
    cr_assert_eq(n, 1, "a commit right after a copy merges");
    assert_pending(&r, "abcde");
    cr_assert_eq(reply_ensure(&r, 4, 8000), 0);
    reply_deinit(&r);
}

/* The inline hot path: one reservation for a header, a reference and a
 * trailer; a header merges with the previous trailer; a reservation that
 * does not fit opens a block and still returns usable room. */
Test(reply, reserve_iovs_push_ref_and_copy)
{
    struct reply r;
    size_t n;
    static const char val[] = "0123456789";

    reset_counts();
    reply_init(&r, count_release);
    char *p = reply_reserve_iovs(&r, 0, 1);
    cr_assert_not_null(p, "a 0-byte reservation before any block");
    reply_commit(&r, 0);
    cr_assert(reply_empty(&r));
    for (int i = 0; i < 3; i++) {
        p = reply_reserve_iovs(&r, 5 + 2, 3);
        cr_assert_not_null(p);
        memcpy(p, "HDR\r\n", 5);
        reply_commit(&r, 5);
        reply_push_ref(&r, val, 10, &released[i]);
        reply_push_copy(&r, "\r\n", 2);
    }
    reply_push_ref(&r, NULL, 0, NULL); /* nothing, not even a piece */
    reply_pending(&r, &n);
    cr_assert_eq(n, 7, "header + ref + (trailer, next header) merged: %zu", n);
    assert_pending(&r, "HDR\r\n0123456789\r\nHDR\r\n0123456789\r\nHDR\r\n0123456789\r\n");
    /* larger than a block: its own block, the iovecs grow as well */
    p = reply_reserve_iovs(&r, 10000, 40);
    cr_assert_not_null(p);
    memset(p, 'z', 10000);
    reply_commit(&r, 10000);
    cr_assert_geq(r.cap - r.niov, 39);
    reply_consume(&r, 5 + 10 + 1);
    cr_assert_eq(released[0], 1);
    cr_assert_eq(released[1], 0);
    reply_consume(&r, r.bytes);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(released[i], 1);
    cr_assert(reply_empty(&r));
    /* after the reset the kept block is written from its start again */
    p = reply_reserve_iovs(&r, 4, 1);
    cr_assert_not_null(p);
    memcpy(p, "END\n", 4);
    reply_commit(&r, 4);
    assert_pending(&r, "END\n");
    reply_deinit(&r);
}
