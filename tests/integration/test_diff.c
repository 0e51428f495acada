/*
 * test_diff.c - differential test: the same bytes go to the server under
 * test and to the real memcached, and the replies must be identical (CAS
 * numbers and the version string normalized).
 *
 * Inputs: every case of cases/text.cases, then randomized sequences of
 * storage/retrieval/arithmetic commands on a few keys from a fixed seed
 * (MCD_DIFF_SEED overrides it). Skipped when the binary under test is
 * memcached itself, or when memcached is not installed.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cases.h"
#include "tests/lib/harness.h"

#ifndef MCD_CASES_DIR
#define MCD_CASES_DIR "tests/integration/cases"
#endif

#define RANDOM_ROUNDS 40
#define RANDOM_CMDS 150

static struct mcd_server *mine, *oracle;

static void setup(void)
{
    const char *ob = mcd_oracle_bin();

    if (mcd_target_is_memcached() || ob == NULL)
        return;
    mine = mcd_start(NULL);
    oracle = mcd_start_bin(ob, NULL);
    cr_assert_not_null(mine, "server %s did not start", mcd_bin());
    cr_assert_not_null(oracle, "memcached %s did not start", ob);
}

static void teardown(void)
{
    mcd_stop(mine);
    mcd_stop(oracle);
}

TestSuite(diff, .init = setup, .fini = teardown, .timeout = 60);

static void skip_if_oracle(void)
{
    if (mcd_target_is_memcached())
        cr_skip_test("the binary under test is memcached: nothing to compare");
    if (mcd_oracle_bin() == NULL)
        cr_skip_test("memcached not installed");
}

/* Runs k on both servers; true when the normalized replies are identical. */
static bool same_reply(const struct mcd_case *k)
{
    char *out[2];
    size_t len[2];
    bool closed[2], synced;
    const struct mcd_server *srv[2] = {oracle, mine};

    for (int i = 0; i < 2; i++) {
        struct mcd_conn *c = mcd_conn_open(srv[i]);
        size_t rawlen;
        char *raw;

        cr_assert_not_null(c, "connect to %s", i ? "mcd" : "memcached");
        raw = mcd_case_collect(c, k, &rawlen, &closed[i], &synced);
        out[i] = mcd_reply_normalize(raw, rawlen, &len[i]);
        free(raw);
        mcd_conn_close(c);
    }
    bool ok = len[0] == len[1] && memcmp(out[0], out[1], len[0]) == 0 && closed[0] == closed[1];
    if (!ok) {
        size_t at = 0;

        while (at < len[0] && at < len[1] && out[0][at] == out[1][at])
            at++;
        size_t from = at > 120 ? at - 120 : 0;
        char *e0 = mcd_escape(out[0] + from, (len[0] - from) > 400 ? 400 : len[0] - from);
        char *e1 = mcd_escape(out[1] + from, (len[1] - from) > 400 ? 400 : len[1] - from);
        fprintf(stderr, "diff %s (line %d): replies differ at byte %zu\n  memcached: ...\"%s\"%s\n  mcd:       ...\"%s\"%s\n",
                k->name, k->line, at, e0, closed[0] ? " <close>" : "", e1, closed[1] ? " <close>" : "");
        free(e0);
        free(e1);
    }
    free(out[0]);
    free(out[1]);
    return ok;
}

Test(diff, text_cases)
{
    const char *dir = getenv("MCD_CASES_DIR");
    char path[1024];
    struct mcd_case_file *f;
    size_t failed = 0;

    skip_if_oracle();
    snprintf(path, sizeof(path), "%s/text.cases", dir != NULL && *dir != '\0' ? dir : MCD_CASES_DIR);
    f = mcd_cases_load(path);
    cr_assert_not_null(f);
    for (size_t i = 0; i < f->n; i++)
        if (!same_reply(&f->cases[i]))
            failed++;
    cr_expect_eq(failed, 0, "%zu of %zu cases differ from memcached (see stderr)", failed, f->n);
    mcd_cases_free(f);
}

/*
 * Appends one random command on one of a few keys to b.
 * No decr and no zero-padded numbers: when an incr/decr result is shorter
 * than the stored value, memcached pads it with spaces in place only if no
 * other thread holds a reference to the item (else it stores a new, shorter
 * item), so its replies to such sequences are not deterministic.
 */
static size_t random_command(char *b, size_t cap, unsigned *seed)
{
    static const char *const cmds[] = {"set", "add", "replace", "append", "prepend", "cas", "get", "gets",
                                       "incr", "incr", "delete", "touch", "gat", "set-num", "malformed"};
    /* lines 1.6.45's stricter parser rejects (or accepts) in its own way;
     * the storage ones carry a data block that must be swallowed */
    static const char *const malformed[] = {
        "set rk%d abc 0 3\r\nabc\r\n", "set rk%d 0 abc 3 noreply\r\nabc\r\n", "cas rk%d 0 0 3\r\nabc\r\n",
        "set rk%d 0 0 3 noreply x\r\nabc\r\n", "set rk%d 0 0 +3\r\n", "delete rk%d 0 0\r\n",
        "incr rk%d +1\r\n", "touch rk%d +1\r\n", "gat rk%d\r\n", "get\r\n", "\r\n", "x\r\n",
        "xx rk%d noreply\r\n", "incr rk%d 1 x y noreply\r\n", "set rk%d 0 0 3\r\nabcde\r\n"};
    const char *cmd = cmds[rand_r(seed) % (sizeof(cmds) / sizeof(cmds[0]))];
    int key = rand_r(seed) % 4;
    const char *nr = rand_r(seed) % 8 == 0 ? " noreply" : "";
    char val[64];
    int vlen;

    if (rand_r(seed) % 2)
        vlen = snprintf(val, sizeof(val), "%u", (unsigned)rand_r(seed) % 1000);
    else
        vlen = snprintf(val, sizeof(val), "v%.*s", rand_r(seed) % 20, "abcdefghijklmnopqrstuvwxyz");
    if (strcmp(cmd, "malformed") == 0)
        return (size_t)snprintf(b, cap, malformed[rand_r(seed) % (sizeof(malformed) / sizeof(malformed[0]))], key);
    if (strcmp(cmd, "set-num") == 0)
        return (size_t)snprintf(b, cap, "set rk%d 0 0 10%s\r\n%10u\r\n", key, nr,
                                1000000000u + (unsigned)rand_r(seed) % 1000000000u);
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "gets") == 0)
        return (size_t)snprintf(b, cap, "%s rk%d rk%d\r\n", cmd, key, (key + 1) % 4);
    if (strcmp(cmd, "gat") == 0)
        return (size_t)snprintf(b, cap, "gat 1000 rk%d\r\n", key);
    if (strcmp(cmd, "incr") == 0 || strcmp(cmd, "decr") == 0)
        return (size_t)snprintf(b, cap, "%s rk%d %u%s\r\n", cmd, key, (unsigned)rand_r(seed) % 200, nr);
    if (strcmp(cmd, "delete") == 0)
        return (size_t)snprintf(b, cap, "delete rk%d%s\r\n", key, nr);
    if (strcmp(cmd, "touch") == 0)
        return (size_t)snprintf(b, cap, "touch rk%d 1000%s\r\n", key, nr);
    if (strcmp(cmd, "cas") == 0) /* CAS values differ by design: only misses and stale ids compare */
        return (size_t)snprintf(b, cap, "cas rk%d 0 0 %d 999999999999%s\r\n%s\r\n", key, vlen, nr, val);
    return (size_t)snprintf(b, cap, "%s rk%d %u 0 %d%s\r\n%s\r\n", cmd, key, (unsigned)rand_r(seed) % 4, vlen, nr,
                            val);
}

Test(diff, random_sequences)
{
    const char *s = getenv("MCD_DIFF_SEED");
    const unsigned seed0 = s != NULL ? (unsigned)strtoul(s, NULL, 10) : 20240607u;
    unsigned seed = seed0;
    size_t failed = 0;

    skip_if_oracle();
    for (int round = 0; round < RANDOM_ROUNDS; round++) {
        char name[64];
        char *req = malloc(RANDOM_CMDS * 128 + 64);
        size_t n = 0;
        struct mcd_case_step step;
        struct mcd_case k;

        cr_assert_not_null(req);
        /* a clean slate for the keys of this round */
        n += (size_t)snprintf(req, 64, "delete rk0\r\ndelete rk1\r\ndelete rk2\r\ndelete rk3\r\n");
        for (int i = 0; i < RANDOM_CMDS; i++)
            n += random_command(req + n, 128, &seed);
        snprintf(name, sizeof(name), "random-round-%d", round);
        memset(&k, 0, sizeof(k));
        step.data = req;
        step.len = n;
        step.bytewise = false;
        k.name = name;
        k.steps = &step;
        k.nsteps = 1;
        if (!same_reply(&k))
            failed++;
        free(req);
    }
    cr_expect_eq(failed, 0, "%zu of %d random rounds differ from memcached (seed %u)", failed, RANDOM_ROUNDS, seed0);
}
