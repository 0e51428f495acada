/*
 * test_cas_ranges.c - CAS values drawn from per-thread ranges (store/item.c)
 * and the flushes that compare them: an item stored after a flush_all or
 * flush_prefix reply survives it, whichever worker thread stores it and
 * however little of its thread's range that thread has used; one
 * connection's CAS values stay 2, 3, 4, ... as memcached 1.6.45's do.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

#define NCONN 4

static const char *const four_threads[] = {"-t", "4", NULL};

static bool
hit(struct mcd_conn *c, const char *key)
{
    char req[128];
    snprintf(req, sizeof(req), "get %s\r\n", key);
    if (!mcd_sendstr(c, req))
        return false;
    size_t len = 0;
    char *r = mcd_read_until(c, "END\r\n", &len);
    bool found = r != NULL && strncmp(r, "VALUE ", 6) == 0;
    free(r);
    return found;
}

static void
set(struct mcd_conn *c, const char *key)
{
    char req[128];
    snprintf(req, sizeof(req), "set %s 0 0 1\r\nx\r\n", key);
    cr_assert(mcd_roundtrip(c, req, "STORED\r\n"), "set %s", key);
}

/* Every connection (round robin over the workers: each its own thread and
 * range) stores before and after `flush`; the later ones all stay. */
static void
stored_after_flush_survives(const char *flush, const char *prefix)
{
    struct mcd_server *srv = mcd_start(four_threads);
    cr_assert_not_null(srv);
    struct mcd_conn *c[NCONN];
    char key[64];
    for (int i = 0; i < NCONN; i++) {
        c[i] = mcd_conn_open(srv);
        cr_assert_not_null(c[i]);
        snprintf(key, sizeof(key), "%sbefore%d", prefix, i);
        set(c[i], key);
    }
    cr_assert(mcd_roundtrip(c[0], flush, "OK\r\n"));
    for (int i = 0; i < NCONN; i++) {
        snprintf(key, sizeof(key), "%safter%d", prefix, i);
        set(c[i], key);
    }
    for (int i = 0; i < NCONN; i++) {
        snprintf(key, sizeof(key), "%sbefore%d", prefix, i);
        cr_expect(!hit(c[i], key), "%s survived %s", key, flush);
        snprintf(key, sizeof(key), "%safter%d", prefix, i);
        cr_expect(hit(c[i], key), "%s, stored after %s, is gone", key, flush);
    }
    for (int i = 0; i < NCONN; i++)
        mcd_conn_close(c[i]);
    mcd_stop(srv);
}

Test(cas_ranges, stored_after_flush_all_survives, .timeout = 30)
{
    stored_after_flush_survives("flush_all\r\n", "");
}

Test(cas_ranges, stored_after_flush_prefix_survives, .timeout = 30)
{
    if (mcd_target_is_memcached())
        cr_skip_test("flush_prefix is an mcd extension");
    stored_after_flush_survives("flush_prefix p:\r\n", "p:");
}

/* Concurrent: setters on every worker while flushes run. A set sent after
 * a flush's reply, whose get comes back before the next flush is sent,
 * must hit. */
struct race {
    const struct mcd_server *srv;
    const char *prefix;
    _Atomic unsigned started, done; /* flushes sent, flushes answered */
    _Atomic bool stop;
    _Atomic long checked;             /* sets that fell between two flushes, all setters */
};

struct setter {
    struct race *r;
    int id;
    long checked, lost, errors;
};

static void *
setter_main(void *arg)
{
    struct setter *s = arg;
    struct mcd_conn *c = mcd_conn_open(s->r->srv);
    if (c == NULL) {
        s->errors++;
        return NULL;
    }
    char key[64], req[128];
    for (long n = 0; !atomic_load(&s->r->stop); n++) {
        unsigned before = atomic_load(&s->r->done);
        snprintf(key, sizeof(key), "%st%d:%ld", s->r->prefix, s->id, n);
        snprintf(req, sizeof(req), "set %s 0 0 1\r\nx\r\n", key);
        if (!mcd_roundtrip(c, req, "STORED\r\n")) {
            s->errors++;
            break;
        }
        bool found = hit(c, key);
        if (atomic_load(&s->r->started) != before)
            continue; /* a flush may have come between: either answer */
        s->checked++;
        atomic_fetch_add(&s->r->checked, 1);
        if (!found)
            s->lost++;
    }
    mcd_conn_close(c);
    return NULL;
}

static void
sets_race_flushes(const char *flush, const char *prefix)
{
    struct mcd_server *srv = mcd_start(four_threads);
    cr_assert_not_null(srv);
    struct mcd_conn *fc = mcd_conn_open(srv);
    cr_assert_not_null(fc);
    struct race r = {.srv = srv, .prefix = prefix};
    struct setter s[NCONN];
    pthread_t th[NCONN];
    for (int i = 0; i < NCONN; i++) {
        s[i] = (struct setter){.r = &r, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, setter_main, &s[i]), 0);
    }
    /* 200 flushes, and more until a set fell between two of them (a loaded
     * machine may not even have started the setters within the first 200) */
    long long deadline = mcd_now_ms() + 20000;
    for (int f = 0; f < 200 || (atomic_load(&r.checked) == 0 && mcd_now_ms() < deadline); f++) {
        atomic_fetch_add(&r.started, 1);
        cr_assert(mcd_roundtrip(fc, flush, "OK\r\n"));
        atomic_fetch_add(&r.done, 1);
        /* let the setters store a few between flushes */
        for (int i = 0; i < 3; i++)
            cr_assert(mcd_roundtrip(fc, "mn\r\n", "MN\r\n"));
    }
    atomic_store(&r.stop, true);
    long checked = 0;
    for (int i = 0; i < NCONN; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(s[i].errors, 0, "setter %d failed", i);
        cr_expect_eq(s[i].lost, 0, "setter %d: %ld of %ld items stored after %s were gone", i, s[i].lost,
                     s[i].checked, flush);
        checked += s[i].checked;
    }
    cr_expect_gt(checked, 0, "no set fell between two flushes");
    mcd_conn_close(fc);
    mcd_stop(srv);
}

Test(cas_ranges, sets_race_flush_all, .timeout = 60)
{
    sets_race_flushes("flush_all\r\n", "");
}

Test(cas_ranges, sets_race_flush_prefix, .timeout = 60)
{
    if (mcd_target_is_memcached())
        cr_skip_test("flush_prefix is an mcd extension");
    sets_race_flushes("flush_prefix p:\r\n", "p:");
}

/* One connection sees 2, 3, 4, ... past the end of a range (256 values)
 * and across a flush, as memcached's single counter gives. */
static void
one_connection_counts_on(const char *bin)
{
    struct mcd_server *srv = mcd_start_bin(bin, four_threads);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char want[128];
    for (int n = 0; n < 600; n++) {
        if (n == 300)
            cr_assert(mcd_roundtrip(c, "flush_all\r\n", "OK\r\n"));
        cr_assert(mcd_roundtrip(c, "set k 0 0 1\r\nx\r\n", "STORED\r\n"));
        snprintf(want, sizeof(want), "VALUE k 0 1 %d\r\nx\r\nEND\r\n", n + 2);
        cr_assert(mcd_roundtrip(c, "gets k\r\n", want), "%s: set %d", bin != NULL ? bin : "mcd", n);
    }
    mcd_conn_close(c);
    mcd_stop(srv);
}

Test(cas_ranges, one_connection_counts_on, .timeout = 60)
{
    one_connection_counts_on(NULL);
    if (!mcd_target_is_memcached() && mcd_oracle_bin() != NULL)
        one_connection_counts_on(mcd_oracle_bin());
}
