/*
 * test_slabs.c - memory that follows the workload: `slabs reassign`,
 * `slabs automove` and `cache_memlimit`. Their replies against memcached
 * 1.6.45's (the oracle), and their effects on mcd: a reassign moves a page
 * and keeps the items it can rescue intact, the global page pool fills and
 * empties, a lowered limit evicts down to it and gives pages back, a raised
 * one lets the cache grow past the start-up -m, the automover moves pages
 * to the classes a shifted workload needs, and clients running while pages
 * move never read a wrong value.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

/* The reply to one request, whole (one line for every command here). */
static char *reply_of(struct mcd_conn *c, const char *req)
{
    if (!mcd_sendstr(c, req))
        return NULL;
    return mcd_read_until(c, "\r\n", NULL);
}

/* Polls `stats` until name == want (at most 10 s). */
static bool wait_stat(struct mcd_conn *c, const char *sub, const char *name, long long want)
{
    long long deadline = mcd_now_ms() + 10000;
    while (mcd_now_ms() < deadline) {
        if (mcd_stat_ll(c, sub, name) == want)
            return true;
        mcd_poll_pause();
    }
    return false;
}

static bool wait_idle(struct mcd_conn *c)
{
    return wait_stat(c, NULL, "slab_reassign_running", 0);
}

/* A value that says which key and which version it belongs to: the key's
 * number, the version, a checksum of both, then filler derived from them. */
static size_t make_value(char *buf, size_t len, unsigned key, unsigned ver)
{
    unsigned sum = (key * 2654435761u) ^ (ver * 40503u);
    int h = snprintf(buf, len, "%u:%u:%u:", key, ver, sum);
    for (size_t i = (size_t)h; i < len; i++)
        buf[i] = (char)('a' + (sum + i) % 26);
    return len;
}

/* Whether `v` (n bytes) is a value make_value() wrote for `key`. */
static bool value_ok(const char *v, size_t n, unsigned key)
{
    unsigned k, ver, sum;
    int h;
    char head[64];
    size_t m = n < sizeof(head) - 1 ? n : sizeof(head) - 1;
    memcpy(head, v, m);
    head[m] = '\0';
    if (sscanf(head, "%u:%u:%u:%n", &k, &ver, &sum, &h) != 3 || k != key || sum != ((k * 2654435761u) ^ (ver * 40503u)))
        return false;
    for (size_t i = (size_t)h; i < n; i++)
        if (v[i] != (char)('a' + (sum + i) % 26))
            return false;
    return true;
}

/* Stores `count` keys "prefix:N" of `len`-byte checked values, pipelined. */
static bool fill(struct mcd_conn *c, const char *prefix, unsigned count, size_t len)
{
    char *buf = malloc(len + 128);
    bool ok = buf != NULL;
    for (unsigned i = 0; ok && i < count; i++) {
        int h = snprintf(buf, 128, "set %s:%u 0 0 %zu noreply\r\n", prefix, i, len);
        make_value(buf + h, len, i, 0);
        memcpy(buf + h + len, "\r\n", 2);
        ok = mcd_send(c, buf, (size_t)h + len + 2);
        if (i % 512 == 511)
            ok = ok && mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n");
    }
    free(buf);
    return ok && mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n");
}

/* Gets "prefix:N" for every N < count: the number of hits; *bad counts
 * hits whose value is not the key's. */
static long check_all(struct mcd_conn *c, const char *prefix, unsigned count, long *bad)
{
    long hits = 0;
    char req[128];
    for (unsigned i = 0; i < count; i++) {
        snprintf(req, sizeof(req), "get %s:%u\r\n", prefix, i);
        if (!mcd_sendstr(c, req))
            return -1;
        size_t n;
        char *r = mcd_read_until(c, "END\r\n", &n);
        if (r == NULL)
            return -1;
        if (strncmp(r, "VALUE ", 6) == 0) {
            char *data = strstr(r, "\r\n") + 2;
            size_t vlen = n - (size_t)(data - r) - 7; /* "\r\nEND\r\n" */
            hits++;
            if (!value_ok(data, vlen, i))
                (*bad)++;
        }
        free(r);
    }
    return hits;
}

/* ---- replies, against the oracle ---- */

/* Waits until a reassign that answered OK has moved its page (memcached
 * starts the move after the reply, so "not running" alone proves nothing). */
static void wait_moved(struct mcd_conn *c, long long before)
{
    long long deadline = mcd_now_ms() + 10000;
    while (mcd_stat_ll(c, NULL, "slabs_moved") <= before && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_assert(wait_idle(c));
}

static void same_replies(struct mcd_conn *a, struct mcd_conn *b, const char *const *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long ma = mcd_stat_ll(a, NULL, "slabs_moved"), mb = mcd_stat_ll(b, NULL, "slabs_moved");
        char *ra = reply_of(a, reqs[i]), *rb = reply_of(b, reqs[i]);
        cr_assert_not_null(ra, "mcd: no reply to %s", reqs[i]);
        cr_assert_not_null(rb, "memcached: no reply to %s", reqs[i]);
        cr_expect_str_eq(ra, rb, "%s: mcd %s, memcached %s", reqs[i], ra, rb);
        /* whatever moved, the next request starts with no move under way */
        if (strncmp(reqs[i], "slabs reassign", 14) == 0 && strcmp(ra, "OK\r\n") == 0)
            wait_moved(a, ma);
        if (strncmp(reqs[i], "slabs reassign", 14) == 0 && strcmp(rb, "OK\r\n") == 0)
            wait_moved(b, mb);
        free(ra);
        free(rb);
    }
}

/* An idle server: no class has a page to spare, the pool is empty. The
 * noreply'd ones are followed by a line that does answer, so their
 * silence is compared too. */
Test(slabs, replies_idle_match_oracle, .timeout = 60)
{
    static const char *const flags[] = {"-m", "8", NULL};
    static const char *const reqs[] = {
        "slabs reassign 1 2\r\n", "slabs reassign -1 2\r\n", "slabs reassign 2 2\r\n",
        "slabs reassign 0 2\r\n", "slabs reassign 1 0\r\n", "slabs reassign 1 64\r\n",
        "slabs reassign 1 100\r\n", "slabs reassign -2 2\r\n", "slabs reassign 1 -1\r\n",
        "slabs reassign 39 1\r\n", "slabs reassign 70 70\r\n", "slabs reassign -1 -1\r\n",
        "slabs reassign 01 2\r\n", "slabs reassign x 2\r\n", "slabs reassign +1 2\r\n",
        "slabs reassign 1 2x\r\n", "slabs reassign 4294967297 2\r\n", "slabs reassign 1\r\n",
        "slabs reassign\r\n", "slabs reassign 1 2 3\r\n", "slabs reassign 1 2 noreply\r\nversion\r\n",
        "slabs automove 0\r\n", "slabs automove 2\r\n", "slabs automove 1 2\r\n", "slabs automove 3\r\n",
        "slabs automove\r\n", "slabs automove 1 noreply\r\nversion\r\n", "slabs automove 1\r\n",
        "cache_memlimit\r\n", "cache_memlimit 0\r\n", "cache_memlimit 7\r\n", "cache_memlimit 5 6\r\n",
        "cache_memlimit abc\r\n", "cache_memlimit -1\r\n", "cache_memlimit +8\r\n", "cache_memlimit 8x\r\n",
        "cache_memlimit 4294967296\r\n", "cache_memlimit 4294967295\r\n", "cache_memlimit 1000000001\r\n",
        "cache_memlimit 5 noreply\r\nversion\r\n", "cache_memlimit noreply\r\nversion\r\n",
        "cache_memlimit 5 noreply x\r\n", "cache_memlimit HTTP/1.0\r\n", "cache_memlimit 16\r\n",
        "cache_memlimit 08\r\n", "cache_memlimit 100 x\r\n",
    };

    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("needs mcd and the memcached oracle");
    struct mcd_server *mine = mcd_start(flags), *oracle = mcd_start_bin(mcd_oracle_bin(), flags);
    cr_assert_not_null(mine);
    cr_assert_not_null(oracle);
    struct mcd_conn *a = mcd_conn_open(mine), *b = mcd_conn_open(oracle);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    same_replies(a, b, reqs, sizeof(reqs) / sizeof(reqs[0]));
    /* the settings a client sees change as memcached's do */
    static const char *const names[] = {"maxbytes", "slab_automove", "slab_automove_ratio", "slab_automove_window",
                                        "slab_reassign"};
    char *sa = mcd_stats(a, "settings"), *sb = mcd_stats(b, "settings");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char va[64] = "", vb[64] = "";
        cr_expect(mcd_stat_find(sa, names[i], va, sizeof(va)), "%s", names[i]);
        cr_expect(mcd_stat_find(sb, names[i], vb, sizeof(vb)), "%s", names[i]);
        cr_expect_str_eq(va, vb, "stats settings %s", names[i]);
    }
    free(sa);
    free(sb);
    cr_expect_eq(mcd_stat_ll(a, NULL, "limit_maxbytes"), mcd_stat_ll(b, NULL, "limit_maxbytes"));
    mcd_conn_close(a);
    mcd_conn_close(b);
    mcd_stop(mine);
    mcd_stop(oracle);
}

/* Class 1 (96-byte chunks) holds three pages of small items on both:
 * a reassign from it answers OK, a second one while the first runs or
 * after it may differ in timing, so each is followed by a wait. */
Test(slabs, replies_filled_match_oracle, .timeout = 60)
{
    static const char *const flags[] = {"-m", "8", NULL};
    static const char *const reqs[] = {
        "slabs reassign 1 5\r\n", "slabs reassign 1 0\r\n", "slabs reassign 1 7\r\n", "slabs reassign 0 3\r\n",
        "slabs reassign 0 3\r\n", "slabs reassign 3 5\r\n", "slabs reassign 1 1\r\n",
    };

    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("needs mcd and the memcached oracle");
    struct mcd_server *mine = mcd_start(flags), *oracle = mcd_start_bin(mcd_oracle_bin(), flags);
    cr_assert_not_null(mine);
    cr_assert_not_null(oracle);
    struct mcd_conn *a = mcd_conn_open(mine), *b = mcd_conn_open(oracle);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert(fill(a, "a", 30000, 10));
    cr_assert(fill(b, "a", 30000, 10));
    cr_assert_eq(mcd_stat_ll(a, "slabs", "1:total_pages"), 3);
    cr_assert_eq(mcd_stat_ll(b, "slabs", "1:total_pages"), 3);
    same_replies(a, b, reqs, sizeof(reqs) / sizeof(reqs[0]));
    /* 1 -> 5, 1 -> pool, pool -> 3: both moved three pages */
    cr_expect_eq(mcd_stat_ll(a, NULL, "slabs_moved"), mcd_stat_ll(b, NULL, "slabs_moved"));
    cr_expect_eq(mcd_stat_ll(a, "slabs", "1:total_pages"), 1);
    mcd_conn_close(a);
    mcd_conn_close(b);
    mcd_stop(mine);
    mcd_stop(oracle);
}

/* ---- effects on mcd ---- */

/* A reassign moves one page: total_pages goes down in the source and up
 * in the destination, the items on it are rescued into the source's free
 * chunks or evicted, and every item still there has its own value. A page
 * to the global pool (DST 0) and back out of it (SRC 0) shows in
 * slab_global_page_pool. */
Test(slabs, reassign_moves_a_page, .timeout = 60)
{
    static const char *const flags[] = {"-m", "16", NULL};
    struct mcd_server *srv = mcd_start(flags);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(fill(c, "a", 45000, 40)); /* 96-byte chunks: 5 pages */
    /* deletes leave free chunks to rescue into */
    char req[64];
    for (unsigned i = 0; i < 45000; i += 3) {
        snprintf(req, sizeof(req), "delete a:%u noreply\r\n", i);
        cr_assert(mcd_sendstr(c, req));
    }
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n"));
    long long pages = mcd_stat_ll(c, "slabs", "1:total_pages");
    cr_assert_eq(pages, 5);
    long bad = 0;
    long before = check_all(c, "a", 45000, &bad);
    cr_assert_eq(bad, 0);
    cr_assert_eq(before, 30000);

    cr_assert(mcd_roundtrip(c, "slabs reassign 1 5\r\n", "OK\r\n"));
    cr_assert(wait_stat(c, NULL, "slabs_moved", 1));
    cr_assert(wait_idle(c));
    cr_expect_eq(mcd_stat_ll(c, "slabs", "1:total_pages"), 4);
    cr_expect_eq(mcd_stat_ll(c, "slabs", "5:total_pages"), 1);
    cr_expect_gt(mcd_stat_ll(c, NULL, "slab_reassign_rescues"), 0);
    long after = check_all(c, "a", 45000, &bad);
    cr_expect_eq(bad, 0, "%ld wrong values after the move", bad);
    /* a third of the items were deleted: the page's live items fit the
     * free chunks of the other pages */
    cr_expect_eq(after, before, "items rescued: %ld of %ld", after, before);

    /* two pages to the global pool, one out of it (the pool, as a class,
     * gives one only while it has two) */
    cr_assert(mcd_roundtrip(c, "slabs reassign 1 0\r\n", "OK\r\n"));
    cr_assert(wait_stat(c, NULL, "slab_global_page_pool", 1));
    cr_assert(wait_idle(c));
    cr_assert(mcd_roundtrip(c, "slabs reassign 0 7\r\n", "NOSPARE source class has no spare pages\r\n"));
    cr_assert(mcd_roundtrip(c, "slabs reassign 1 0\r\n", "OK\r\n"));
    cr_assert(wait_stat(c, NULL, "slab_global_page_pool", 2));
    cr_assert(wait_idle(c));
    cr_expect_eq(mcd_stat_ll(c, "slabs", "1:total_pages"), 2);
    cr_assert(mcd_roundtrip(c, "slabs reassign 0 7\r\n", "OK\r\n"));
    cr_assert(wait_stat(c, NULL, "slab_global_page_pool", 1));
    cr_assert(wait_idle(c));
    cr_expect_eq(mcd_stat_ll(c, "slabs", "7:total_pages"), 1);
    cr_expect_eq(mcd_stat_ll(c, NULL, "slabs_moved"), 4);
    after = check_all(c, "a", 45000, &bad);
    cr_expect_eq(bad, 0);
    cr_expect_gt(after, 0);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* A class with one page has none to spare; a page in the pool is used by
 * a class that needs one before any new page is carved (total_malloced
 * does not grow). */
Test(slabs, pool_feeds_classes_first, .timeout = 60)
{
    static const char *const flags[] = {"-m", "16", NULL};
    struct mcd_server *srv = mcd_start(flags);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(fill(c, "a", 15000, 40));
    cr_assert_eq(mcd_stat_ll(c, "slabs", "1:total_pages"), 2);
    cr_assert(mcd_roundtrip(c, "slabs reassign 1 0\r\n", "OK\r\n"));
    cr_assert(wait_stat(c, NULL, "slab_global_page_pool", 1));
    cr_assert(wait_idle(c));
    cr_assert(mcd_roundtrip(c, "slabs reassign 1 0\r\n", "NOSPARE source class has no spare pages\r\n"));
    long long malloced = mcd_stat_ll(c, "slabs", "total_malloced");
    cr_assert(fill(c, "b", 100, 1000));
    cr_expect_eq(mcd_stat_ll(c, NULL, "slab_global_page_pool"), 0);
    cr_expect_eq(mcd_stat_ll(c, "slabs", "total_malloced"), malloced);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* cache_memlimit below what is used: items are evicted down to it, the
 * pages go back to the OS (total_malloced, RSS); above the start-up -m:
 * the cache grows past it. */
Test(slabs, memlimit_shrinks_and_grows, .timeout = 120)
{
    static const char *const flags[] = {"-m", "32", NULL};
    struct mcd_server *srv = mcd_start(flags);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(fill(c, "v", 40000, 1000));
    long long items = mcd_stat_ll(c, NULL, "curr_items");
    long long malloced = mcd_stat_ll(c, "slabs", "total_malloced");
    cr_assert_gt(malloced, 30ll << 20);
    long rss = mcd_rss_kb(srv->pid);

    cr_assert(mcd_roundtrip(c, "cache_memlimit 8\r\n", "OK\r\n"));
    long long deadline = mcd_now_ms() + 10000;
    while (mcd_stat_ll(c, "slabs", "total_malloced") > (8ll << 20) && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_leq(mcd_stat_ll(c, "slabs", "total_malloced"), 8ll << 20);
    cr_expect_eq(mcd_stat_ll(c, NULL, "limit_maxbytes"), 8ll << 20);
    long long left = mcd_stat_ll(c, NULL, "curr_items");
    cr_expect_lt(left, items / 3, "%lld items of %lld left", left, items);
    long shrunk = mcd_rss_kb(srv->pid);
    fprintf(stderr, "memlimit 32 -> 8: RSS %ld -> %ld KB, items %lld -> %lld\n", rss, shrunk, items, left);
    if (MCD_RSS_ASSERTED)
        cr_expect_lt(shrunk, rss - 16 * 1024, "RSS %ld KB -> %ld KB", rss, shrunk);
    long bad = 0;
    check_all(c, "v", 40000, &bad);
    cr_expect_eq(bad, 0);
    /* sets still work within the new limit */
    cr_assert(fill(c, "w", 20000, 1000));
    cr_expect_leq(mcd_stat_ll(c, "slabs", "total_malloced"), 8ll << 20);

    cr_assert(mcd_roundtrip(c, "cache_memlimit 64\r\n", "OK\r\n"));
    cr_assert(fill(c, "x", 60000, 1000));
    cr_expect_gt(mcd_stat_ll(c, "slabs", "total_malloced"), 48ll << 20);
    cr_expect_leq(mcd_stat_ll(c, "slabs", "total_malloced"), 64ll << 20);
    /* beyond the reserved arena */
    cr_assert(mcd_roundtrip(c, "cache_memlimit 999999999\r\n",
                            "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n"));
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* ---- the automover ---- */

/* Serves 5-10 KB values cache-aside over `keys` keys for `secs` seconds:
 * the hit ratio over the last `tail_secs`. */
static double cache_aside(struct mcd_conn *c, unsigned keys, int secs, int tail_secs, unsigned seed)
{
    char *buf = malloc(10240 + 128);
    char req[64];
    long hits = 0, total = 0;
    long long end = mcd_now_ms() + secs * 1000ll, tail = end - tail_secs * 1000ll;
    cr_assert_not_null(buf);
    unsigned x = seed;
    while (mcd_now_ms() < end) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 8) % keys;
        snprintf(req, sizeof(req), "get big:%u\r\n", k);
        cr_assert(mcd_sendstr(c, req));
        char *r = mcd_read_until(c, "END\r\n", NULL);
        cr_assert_not_null(r);
        bool hit = strncmp(r, "VALUE ", 6) == 0;
        free(r);
        if (mcd_now_ms() >= tail) {
            total++;
            hits += hit;
        }
        if (!hit) {
            size_t len = 5000 + (k * 7919u) % 5000;
            int h = snprintf(buf, 128, "set big:%u 0 0 %zu\r\n", k, len);
            make_value(buf + h, len, k, 1);
            memcpy(buf + h + len, "\r\n", 2);
            cr_assert(mcd_send(c, buf, (size_t)h + len + 2));
            char *l = mcd_read_line(c);
            cr_assert_not_null(l);
            free(l);
        }
    }
    free(buf);
    return total > 0 ? (double)hits / (double)total : 0;
}

/* A cache full of 100-byte values then serves 5-10 KB ones: with the
 * automover (mode 1, a short window) pages move to the large classes and
 * the hit ratio recovers; without it (mode 0: only the on-demand move of a
 * page to a class that has none) it stays low. */
Test(slabs, automover_recovers_hit_ratio, .timeout = 120)
{
    static const char *const on[] = {"-m", "16", "-o", "slab_automove=1,slab_automove_window=3", NULL};
    static const char *const off[] = {"-m", "16", "-o", "slab_automove=0", NULL};
    double ratio[2];
    long long moved[2];
    for (int i = 0; i < 2; i++) {
        struct mcd_server *srv = mcd_start(i == 0 ? on : off);
        cr_assert_not_null(srv);
        struct mcd_conn *c = mcd_conn_open(srv);
        cr_assert_not_null(c);
        cr_assert(fill(c, "small", 150000, 100));
        ratio[i] = cache_aside(c, 1600, 14, 4, 7);
        moved[i] = mcd_stat_ll(c, NULL, "slabs_moved");
        mcd_conn_close(c);
        mcd_stop(srv);
    }
    fprintf(stderr, "automove 1: hit ratio %.3f, %lld pages moved; automove 0: %.3f, %lld\n", ratio[0], moved[0],
            ratio[1], moved[1]);
    cr_expect_gt(moved[0], 4);
    cr_expect_eq(moved[1], 0);
    cr_expect_gt(ratio[0], 0.5);
    cr_expect_gt(ratio[0], ratio[1] + 0.2);
}

/* ---- clients while pages move ---- */

struct client {
    const struct mcd_server *srv;
    unsigned id;
    _Atomic bool *stop;
    long gets, hits, bad;
    bool ok;
};

/* Sets and gets checked values of three sizes (three classes) over a key
 * space larger than memory; every hit must be the key's own value. */
static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct mcd_conn *c = mcd_conn_open(cl->srv);
    char *buf = malloc(4096 + 128);
    char req[64];
    unsigned x = 0x9e3779b9u * (cl->id + 1);
    cl->ok = c != NULL && buf != NULL;
    while (cl->ok && !atomic_load(cl->stop)) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 8) % 60000;
        size_t len = k % 3 == 0 ? 100 : k % 3 == 1 ? 900 : 3000;
        if (x & 0x10000) {
            int h = snprintf(buf, 128, "set k:%u 0 0 %zu\r\n", k, len);
            make_value(buf + h, len, k, x & 0xff);
            memcpy(buf + h + len, "\r\n", 2);
            cl->ok = mcd_send(c, buf, (size_t)h + len + 2);
            char *l = cl->ok ? mcd_read_line(c) : NULL;
            cl->ok = l != NULL;
            free(l);
            continue;
        }
        snprintf(req, sizeof(req), "get k:%u\r\n", k);
        cl->ok = mcd_sendstr(c, req);
        size_t n;
        char *r = cl->ok ? mcd_read_until(c, "END\r\n", &n) : NULL;
        cl->ok = r != NULL;
        if (r != NULL && strncmp(r, "VALUE ", 6) == 0) {
            char *data = strstr(r, "\r\n") + 2;
            size_t vlen = n - (size_t)(data - r) - 7;
            cl->hits++;
            if (vlen != len || !value_ok(data, vlen, k))
                cl->bad++;
        }
        cl->gets++;
        free(r);
    }
    free(buf);
    mcd_conn_close(c);
    return NULL;
}

Test(slabs, clients_never_read_a_wrong_value_while_pages_move, .timeout = 120)
{
    static const char *const flags[] = {"-m", "24", "-t", "4", "-o", "slab_automove=2", NULL};
    struct mcd_server *srv = mcd_start(flags);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    _Atomic bool stop = false;
    struct client cl[4];
    pthread_t th[4];
    for (unsigned i = 0; i < 4; i++) {
        cl[i] = (struct client){.srv = srv, .id = i, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    }
    /* pages back and forth between the three classes, through the pool,
     * and the limit down and up, while the clients run */
    static const char *const moves[] = {"slabs reassign -1 5\r\n",  "slabs reassign -1 10\r\n",
                                        "slabs reassign -1 15\r\n", "slabs reassign 5 0\r\n",
                                        "slabs reassign 0 15\r\n",  "cache_memlimit 12\r\n",
                                        "slabs reassign -1 10\r\n", "cache_memlimit 24\r\n"};
    long long end = mcd_now_ms() + 8000;
    for (unsigned i = 0; mcd_now_ms() < end; i++) {
        char *r = reply_of(c, moves[i % 8]);
        cr_assert_not_null(r);
        free(r);
        mcd_poll_pause();
    }
    atomic_store(&stop, true);
    long gets = 0, hits = 0, bad = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect(cl[i].ok, "client %u lost its connection", i);
        gets += cl[i].gets;
        hits += cl[i].hits;
        bad += cl[i].bad;
    }
    long long moved = mcd_stat_ll(c, NULL, "slabs_moved");
    fprintf(stderr, "%ld gets, %ld hits, %ld wrong; %lld pages moved, %lld rescued items\n", gets, hits, bad, moved,
            mcd_stat_ll(c, NULL, "slab_reassign_rescues"));
    cr_expect_eq(bad, 0);
    cr_expect_gt(hits, 0);
    cr_expect_gt(moved, 5);
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n"));
    mcd_conn_close(c);
    mcd_stop(srv);
}
