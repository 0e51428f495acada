/*
 * test_text_cases.c - replays cases/text.cases (recorded from memcached
 * 1.6.45) and cases/text-mcd.cases (mcd's deliberate differences, written
 * by hand) against the server under test and compares every reply byte.
 *
 * One server for the whole table; each case gets a fresh connection and
 * keys of its own. $MCD_CASES_DIR overrides the table's directory.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/lib/cases.h"
#include "tests/lib/harness.h"

#ifndef MCD_CASES_DIR
#define MCD_CASES_DIR "tests/integration/cases"
#endif

static void run_table(const char *file)
{
    const char *dir = getenv("MCD_CASES_DIR");
    char path[1024];
    struct mcd_case_file *f;
    struct mcd_server *srv;
    size_t failed = 0;

    snprintf(path, sizeof(path), "%s/%s", dir != NULL && *dir != '\0' ? dir : MCD_CASES_DIR, file);
    f = mcd_cases_load(path);
    cr_assert_not_null(f, "cannot load %s", path);
    cr_assert_gt(f->n, 0, "%s has no cases", path);
    srv = mcd_start(NULL);
    cr_assert_not_null(srv, "server %s did not start", mcd_bin());
    for (size_t i = 0; i < f->n; i++) {
        const struct mcd_case *k = &f->cases[i];

        cr_expect(k->has_expect, "case %s (line %d) has no recorded reply", k->name, k->line);
        if (!mcd_case_check(srv, k)) {
            failed++;
            cr_expect_fail("case %s (%s:%d) differs from memcached (details on stderr)", k->name, file, k->line);
        }
    }
    cr_log_info("%s: %zu of %zu cases passed", file, f->n - failed, f->n);
    mcd_stop(srv);
    mcd_cases_free(f);
}

Test(text_cases, table, .timeout = 60)
{
    run_table("text.cases");
}

Test(text_cases, deliberate_differences, .timeout = 60)
{
    if (mcd_target_is_memcached())
        cr_skip_test("text-mcd.cases holds mcd's replies, not memcached's");
    run_table("text-mcd.cases");
}

/* With -A -F (shutdown enabled, flush_all disabled), as 1.6.45 answers:
 * -F is checked before the delay, and noreply silences both errors. */
Test(text_cases, shutdown_enabled_flush_disabled, .timeout = 30)
{
    static const char *const flags[] = {"-A", "-F", NULL};
    static const struct {
        const char *req, *reply;
    } c[] = {
        {"flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n"},
        {"flush_all abc\r\n", "CLIENT_ERROR flush_all not allowed\r\n"},
        {"flush_all noreply\r\nmn\r\n", "MN\r\n"},
        {"shutdown x\r\n", "CLIENT_ERROR invalid shutdown mode\r\n"},
        {"shutdown graceful x\r\n", "CLIENT_ERROR invalid shutdown mode\r\n"},
        {"shutdown x noreply\r\nmn\r\n", "MN\r\n"},
        {"shutdown noreply\r\nmn\r\n", "MN\r\n"}, /* a bad mode, silenced: still running */
        {"shutdown graceful noreply\r\nmn\r\n", "MN\r\n"},
    };
    struct mcd_server *srv = mcd_start(flags);
    cr_assert_not_null(srv);
    struct mcd_conn *conn = mcd_conn_open(srv);
    cr_assert_not_null(conn);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        cr_expect(mcd_roundtrip(conn, c[i].req, c[i].reply), "%s", c[i].req);
    mcd_conn_close(conn);
    mcd_stop(srv);
}
