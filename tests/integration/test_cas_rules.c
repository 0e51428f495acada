/*
 * test_cas_rules.c - the CAS rules that live in store_link (and the meta
 * invalidate path), seen from the text and meta protocols: a CAS of 0 never
 * matches, and under -C (items carry no CAS) a compare-and-swap never
 * matches while a plain store ignores the CAS it is given. The replies are
 * memcached 1.6.45's; each sequence also runs against it when it is
 * installed (mcd_oracle_bin()), to keep the expectations honest. The binary
 * protocol's side of the same rules is test_binary_matrix.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stddef.h>

#include "tests/lib/harness.h"

struct exchange {
    const char *req;
    const char *reply;
};

static void run(const char *bin, const char *const flags[], const struct exchange *x, size_t n)
{
    struct mcd_server *srv = mcd_start_bin(bin, flags);
    cr_assert_not_null(srv, "%s did not start", bin != NULL ? bin : "mcd");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    for (size_t i = 0; i < n; i++)
        cr_expect(mcd_roundtrip(c, x[i].req, x[i].reply), "%s: step %zu: %s", bin != NULL ? bin : "mcd", i, x[i].req);
    mcd_conn_close(c);
    mcd_stop(srv);
}

static void run_both(const char *const flags[], const struct exchange *x, size_t n)
{
    run(NULL, flags, x, n);
    if (!mcd_target_is_memcached() && mcd_oracle_bin() != NULL)
        run(mcd_oracle_bin(), flags, x, n);
}

/* shared by both modes: a CAS of 0 never matches, text or meta */
#define COMMON_STEPS                                                                                                 \
    {"set k 0 0 1\r\na\r\n", "STORED\r\n"}, {"cas k 0 0 1 0\r\nb\r\n", "EXISTS\r\n"},                                \
        {"cas nokey 0 0 1 0\r\nb\r\n", "NOT_FOUND\r\n"}, {"ms k 1 C0\r\nb\r\n", "EX\r\n"},                           \
        {"ms k 1 C0 I\r\nb\r\n", "EX\r\n"}, {"ms k 1 C99999\r\nb\r\n", "EX\r\n"}, {"ms k 1 MR C0\r\nb\r\n", "EX\r\n"}, \
        {"ms nokey 1 C0\r\nb\r\n", "NF\r\n"}, {"md k C99999\r\n", "EX\r\n"}, {"ma k C99999\r\n", "EX\r\n"},   \
        /* an empty value is non-numeric before the CAS is compared */                                               \
        {"ms e 0\r\n\r\n", "HD\r\n"},                                                                                 \
        {"ma e C99999\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"}

Test(cas_rules, cas_zero_never_matches, .timeout = 30)
{
    static const char *const flags[] = {NULL};
    static const struct exchange x[] = {
        COMMON_STEPS,
        /* a CAS on append is compared: a stale one refuses */
        {"ms k 1 MA C99999\r\nc\r\n", "EX\r\n"},
        {"get k\r\n", "VALUE k 0 1\r\na\r\nEND\r\n"},
    };
    run_both(flags, x, sizeof(x) / sizeof(x[0]));
}

Test(cas_rules, no_cas_mode_never_compares, .timeout = 30)
{
    static const char *const flags[] = {"-C", NULL};
    static const struct exchange x[] = {
        COMMON_STEPS,
        /* -C: the append's CAS cannot be compared, so it is ignored */
        {"ms k 1 MA C99999\r\nc\r\n", "HD\r\n"},
        {"gets k\r\n", "VALUE k 0 2 0\r\nac\r\nEND\r\n"},
    };
    run_both(flags, x, sizeof(x) / sizeof(x[0]));
}
