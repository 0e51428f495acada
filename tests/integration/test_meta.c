/*
 * test_meta.c - the meta protocol end to end.
 *
 *  - table: every exchange of meta_cases/meta.cases and meta_gen.cases
 *    (replies recorded from memcached 1.6.45) against the server under test;
 *  - diff: the same exchanges against server/mcd and the oracle (memcached
 *    1.6.45) side by side, by default and both under -C, replies compared
 *    after masking CAS values and me's details after cas= (skipped when
 *    the oracle is missing);
 *  - stampede: 32 clients miss one key with N at once, exactly one gets W
 *    (and after md I, exactly one reader of the stale item gets W);
 *  - example: examples/cache_aside runs 32 clients against the server and
 *    calls its backend exactly once.
 */
#include "config.h"

#include "tests/lib/cases.h"
#include "tests/lib/harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef MCD_META_CASES
#define MCD_META_CASES "tests/integration/meta_cases/meta.cases"
#endif
#ifndef MCD_META_GEN_CASES
#define MCD_META_GEN_CASES "tests/integration/meta_cases/meta_gen.cases"
#endif
#ifndef MCD_EXAMPLE_BIN
#define MCD_EXAMPLE_BIN "examples/cache_aside"
#endif

static struct mcd_server *srv;

static void setup(void)
{
    srv = mcd_start(NULL);
    cr_assert_not_null(srv, "server %s did not start", mcd_bin());
}

static void teardown(void)
{
    mcd_stop(srv);
}

TestSuite(meta, .init = setup, .fini = teardown, .timeout = 120);

/* The hand-written exchanges, then the generated ones (gen-cases.py). */
static const char *const case_files[] = {MCD_META_CASES, MCD_META_GEN_CASES};
#define NFILES (sizeof(case_files) / sizeof(case_files[0]))

Test(meta, recorded_table)
{
    for (size_t k = 0; k < NFILES; k++) {
        struct mcd_case_file *f = mcd_cases_load(case_files[k]);
        cr_assert_not_null(f, "%s", case_files[k]);
        size_t bad = 0;
        for (size_t i = 0; i < f->n; i++)
            if (!mcd_case_check(srv, &f->cases[i]))
                bad++;
        cr_expect_eq(bad, 0, "%zu of %zu cases of %s differ from memcached's recorded replies", bad, f->n,
                     case_files[k]);
        mcd_cases_free(f);
    }
}

/* Masks what legitimately differs: digits after " c" (CAS), and the rest of
 * an "ME" line after "cas=". In place (what is replaced is read before the
 * shorter mask is written over it); returns the new length. */
static size_t mask(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 2 < n && s[i] == ' ' && s[i + 1] == 'c' && s[i + 2] >= '0' && s[i + 2] <= '9') {
            size_t j = i + 2;
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            memcpy(s + o, " c#", 3); /* o <= i and j >= i + 3 */
            o += 3;
            i = j;
            continue;
        }
        if (i + 5 <= n && memcmp(s + i, "cas=", 4) == 0 && s[i + 4] != '\r') {
            size_t j = i + 4;
            while (j < n && s[j] != '\r')
                j++;
            memcpy(s + o, "cas=#", 5); /* o <= i and j >= i + 5 */
            o += 5;
            i = j;
            continue;
        }
        s[o++] = s[i++];
    }
    return o;
}

/* Replays every case of `path` against `oracle` and `ours`; returns how
 * many exchanges differ (after masking). */
static size_t diff_file(const char *path, const struct mcd_server *oracle, const struct mcd_server *ours,
                        const char *mode)
{
    struct mcd_case_file *f = mcd_cases_load(path);
    cr_assert_not_null(f, "%s", path);
    size_t bad = 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct mcd_server *s[2] = {oracle, ours};
        char *out[2];
        size_t len[2];
        for (int j = 0; j < 2; j++) {
            struct mcd_conn *c = mcd_conn_open(s[j]);
            bool closed, synced;
            cr_assert_not_null(c);
            out[j] = mcd_case_collect(c, &f->cases[i], &len[j], &closed, &synced);
            len[j] = mask(out[j], len[j]);
            mcd_conn_close(c);
        }
        if (len[0] != len[1] || memcmp(out[0], out[1], len[0]) != 0) {
            char *e0 = mcd_escape(out[0], len[0]), *e1 = mcd_escape(out[1], len[1]);
            fprintf(stderr, "meta diff %s%s:\n  memcached: %s\n  mcd:       %s\n", f->cases[i].name, mode, e0, e1);
            free(e0);
            free(e1);
            bad++;
        }
        free(out[0]);
        free(out[1]);
    }
    mcd_cases_free(f);
    return bad;
}

/* Every case file against the oracle started with `extra` and `ours`. */
static size_t diff_cases(const char *const extra[], const struct mcd_server *ours)
{
    struct mcd_server *oracle = mcd_start_bin(mcd_oracle_bin(), extra);
    cr_assert_not_null(oracle);
    size_t bad = 0;
    for (size_t k = 0; k < NFILES; k++)
        bad += diff_file(case_files[k], oracle, ours, extra != NULL ? " (-C)" : "");
    mcd_stop(oracle);
    return bad;
}

Test(meta, differential_against_memcached)
{
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("memcached not installed (or it is the server under test)");
    size_t bad = diff_cases(NULL, srv);
    cr_assert_eq(bad, 0, "%zu meta exchanges differ from memcached", bad);
}

/* The same exchanges with CAS disabled on both sides (c0 everywhere). */
Test(meta, differential_against_memcached_without_cas)
{
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("memcached not installed (or it is the server under test)");
    static const char *const no_cas[] = {"-C", NULL};
    struct mcd_server *ours = mcd_start(no_cas);
    cr_assert_not_null(ours);
    size_t bad = diff_cases(no_cas, ours);
    mcd_stop(ours);
    cr_assert_eq(bad, 0, "%zu meta exchanges differ from memcached under -C", bad);
}

/* Exact CAS values (not masked): a fresh mcd numbers the CAS of meta
 * commands as a fresh memcached 1.6.45 does (E uses none up; md x keeps
 * the item's; ms with an opaque too long uses one up). */
Test(meta, cas_numbering_as_memcached)
{
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("memcached not installed (or it is the server under test)");
    static const char seq[] =
        "ms a 1 c\r\nx\r\nmd a x\r\nmg a c\r\nms b 1 c\r\nx\r\n"
        "ms c 1 E50 c\r\nx\r\nms d 1 c\r\nx\r\nmd d I\r\nmg d c\r\n"
        "mg e N30 c\r\nma f N0 c\r\nma f c\r\nma f E9 c\r\nmd f x I\r\nmg f c\r\n"
        "ms g 1 MA N30 c\r\nx\r\nms g 1 MP c\r\ny\r\nms g 1 ME c\r\nz\r\nms g 1 MA C99 c\r\nz\r\n"
        "ms h 1 O123456789012345678901234567890123 c\r\nx\r\nms i 1 c\r\nx\r\nmn\r\n";
    struct mcd_server *oracle = mcd_start_bin(mcd_oracle_bin(), NULL);
    struct mcd_server *ours = mcd_start(NULL);
    cr_assert_not_null(oracle);
    cr_assert_not_null(ours);
    char *out[2];
    size_t len[2];
    struct mcd_server *s[2] = {oracle, ours};
    for (int j = 0; j < 2; j++) {
        struct mcd_conn *c = mcd_conn_open(s[j]);
        cr_assert_not_null(c);
        cr_assert(mcd_sendstr(c, seq));
        out[j] = mcd_read_until(c, "MN\r\n", &len[j]);
        cr_assert_not_null(out[j]);
        mcd_conn_close(c);
    }
    cr_expect(len[0] == len[1] && memcmp(out[0], out[1], len[0]) == 0, "memcached: %.*s\nmcd:       %.*s",
              (int)len[0], out[0], (int)len[1], out[1]);
    free(out[0]);
    free(out[1]);
    mcd_stop(ours);
    mcd_stop(oracle);
}

#define CLIENTS 32

struct racer {
    struct mcd_conn *c;
    const char *cmd;
    pthread_barrier_t *go;
    char *line;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    mcd_sendstr(r->c, r->cmd);
    r->line = mcd_read_line(r->c);
    return NULL;
}

static bool has_flag(const char *line, char f)
{
    for (const char *p = strchr(line, ' '); p != NULL; p = strchr(p + 1, ' '))
        if (p[1] == f && (p[2] == ' ' || p[2] == '\0'))
            return true;
    return false;
}

/* Sends cmd from CLIENTS connections at once; returns how many got W and
 * checks that every other one got Z. */
static int race_round(struct mcd_conn **conns, const char *cmd)
{
    pthread_barrier_t go;
    pthread_t th[CLIENTS];
    struct racer r[CLIENTS];
    pthread_barrier_init(&go, NULL, CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        r[i] = (struct racer){.c = conns[i], .cmd = cmd, .go = &go};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int wins = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_not_null(r[i].line, "client %d got no reply", i);
        if (has_flag(r[i].line, 'W'))
            wins++;
        else
            cr_assert(has_flag(r[i].line, 'Z'), "loser reply without Z: %s", r[i].line);
        free(r[i].line);
    }
    pthread_barrier_destroy(&go);
    return wins;
}

Test(meta, stampede_exactly_one_winner)
{
    struct mcd_conn *conns[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        conns[i] = mcd_conn_open(srv);
        cr_assert_not_null(conns[i]);
    }
    char cmd[64];
    for (int round = 0; round < 20; round++) {
        snprintf(cmd, sizeof(cmd), "mg hot:%d s t N30\r\n", round);
        cr_assert_eq(race_round(conns, cmd), 1, "vivify round %d", round);
    }
    /* stale-while-revalidate: md I, then every reader sees X, one wins */
    for (int round = 0; round < 10; round++) {
        snprintf(cmd, sizeof(cmd), "ms stale:%d 2 T60\r\nok\r\n", round);
        cr_assert(mcd_roundtrip(conns[0], cmd, "HD\r\n"));
        snprintf(cmd, sizeof(cmd), "md stale:%d I\r\n", round);
        cr_assert(mcd_roundtrip(conns[0], cmd, "HD\r\n"));
        snprintf(cmd, sizeof(cmd), "mg stale:%d s\r\n", round);
        cr_assert_eq(race_round(conns, cmd), 1, "stale round %d", round);
    }
    for (int i = 0; i < CLIENTS; i++)
        mcd_conn_close(conns[i]);
}

Test(meta, cache_aside_example)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s -p %d -c 32 -d 150 -k example:report", MCD_EXAMPLE_BIN, srv->port);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[256] = "";
    cr_assert_not_null(fgets(line, sizeof(line), p));
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cache_aside: %s", line);
    cr_assert(strstr(line, "backend_calls=1") != NULL, "%s", line);
}

/*
 * ma with E: the item keeps the CAS the reply names, also when the result
 * is longer than the value (9 + 1 = 10 does not fit in place). 1.6.45
 * answers c9 there but stores the new value under a CAS of its own, so a
 * client's next `ms ... C9` fails (memcached-compat.md, "memcached 1.6.45
 * bugs"); in place it keeps E's value, as mcd always does.
 */
Test(meta, arith_e_sets_the_cas_it_answers)
{
    if (mcd_target_is_memcached())
        cr_skip_test("memcached 1.6.45 stores a grown result under another CAS");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(mcd_roundtrip(c, "set maecas 0 0 1\r\n9\r\n", "STORED\r\n"));
    cr_expect(mcd_roundtrip(c, "ma maecas c E9\r\n", "HD c9\r\n"));
    cr_expect(mcd_roundtrip(c, "mg maecas c v\r\n", "VA 2 c9\r\n10\r\n"));
    cr_expect(mcd_roundtrip(c, "ms maecas 2 C9\r\n11\r\n", "HD\r\n"));
    cr_assert(mcd_roundtrip(c, "set maecas2 0 0 1\r\n1\r\n", "STORED\r\n"));
    cr_expect(mcd_roundtrip(c, "ma maecas2 c E50\r\n", "HD c50\r\n"));
    cr_expect(mcd_roundtrip(c, "mg maecas2 c v\r\n", "VA 1 c50\r\n2\r\n"));
    mcd_conn_close(c);
}
