/*
 * test_flush_cas.c - flush_all and items whose CAS a client chose (meta E
 * on ms, mg N, ma, md I / md x): every item linked before an immediate
 * flush_all is gone after it, whatever its CAS next to the server's
 * counter, and every item linked after it stays, in the same second too.
 * E does not move the counter (ma's increment does, as any incr), which
 * the plain sets' CAS values show. The replies are memcached 1.6.45's; each
 * sequence runs against it too when it is installed (mcd_oracle_bin()).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stddef.h>

#include "tests/lib/harness.h"

struct exchange {
    const char *req;
    const char *reply;
};

static void
run(const char *bin, const char *const flags[], const struct exchange *x, size_t n)
{
    struct mcd_server *srv = mcd_start_bin(bin, flags);
    cr_assert_not_null(srv, "%s did not start", bin != NULL ? bin : "mcd");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    for (size_t i = 0; i < n; i++)
        cr_expect(mcd_roundtrip(c, x[i].req, x[i].reply), "%s: step %zu: %s", bin != NULL ? bin : "mcd", i,
                  x[i].req);
    mcd_conn_close(c);
    mcd_stop(srv);
}

static void
run_both(const char *const flags[], const struct exchange *x, size_t n)
{
    run(NULL, flags, x, n);
    if (!mcd_target_is_memcached() && mcd_oracle_bin() != NULL)
        run(mcd_oracle_bin(), flags, x, n);
}

#define RUN(flags, x) run_both(flags, x, sizeof(x) / sizeof(x[0]))

/* the sequence: an E far above the counter */
Test(flush_cas, ms_e_above_the_counter_is_flushed, .timeout = 30)
{
    static const char *const flags[] = {NULL};
    static const struct exchange x[] = {
        {"ms k 0 E123\r\n\r\n", "HD\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"get k\r\n", "END\r\n"},
        {"mg k c\r\n", "EN\r\n"},
        /* E drew no CAS: a fresh server's first set gets 2 */
        {"set a 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"gets a\r\n", "VALUE a 0 1 2\r\nx\r\nEND\r\n"},
    };
    RUN(flags, x);
}

/* E below and above the counter, before and after the flush */
Test(flush_cas, before_goes_after_stays, .timeout = 30)
{
    static const char *const flags[] = {NULL};
    static const struct exchange x[] = {
        {"set a 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"set a 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"set a 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"ms k1 0 E3\r\n\r\n", "HD\r\n"},
        {"ms k2 0 E1000\r\n\r\n", "HD\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"mg k1 c\r\n", "EN\r\n"},
        {"mg k2 c\r\n", "EN\r\n"},
        {"ms k3 0 E1\r\n\r\n", "HD\r\n"},
        {"ms k4 0 E5000\r\n\r\n", "HD\r\n"},
        {"mg k3 c\r\n", "HD c1\r\n"},
        {"mg k4 c\r\n", "HD c5000\r\n"},
        {"set b 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"gets b\r\n", "VALUE b 0 1 5\r\nx\r\nEND\r\n"},
    };
    RUN(flags, x);
}

/* E on ma, md I, mg N, md x, ms append (with N): all flushed, and an
 * item given E after the flush is still there for ma */
Test(flush_cas, e_on_every_meta_command, .timeout = 30)
{
    static const char *const flags[] = {NULL};
    static const struct exchange x[] = {
        {"ms a 1\r\n1\r\n", "HD\r\n"},
        {"ms b 1\r\n1\r\n", "HD\r\n"},
        {"ms c 1\r\n1\r\n", "HD\r\n"},
        {"ma a E900\r\n", "HD\r\n"},
        {"md b I E901\r\n", "HD\r\n"},
        {"mg n N0 E902 c\r\n", "HD c902 W\r\n"},
        {"md c x E903\r\n", "HD\r\n"},
        {"ma z N0 E77\r\n", "HD\r\n"},
        {"ms p 1 MA E66\r\n2\r\n", "NS\r\n"},
        {"ms q 1 MA N0 E67\r\n2\r\n", "HD\r\n"},
        {"mg a c v\r\n", "VA 1 c900\r\n2\r\n"},
        {"mg b c v\r\n", "VA 1 c901 X W\r\n1\r\n"},
        {"mg c c v\r\n", "VA 0 c903\r\n\r\n"},
        {"mg q c v\r\n", "VA 1 c67\r\n2\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"mg a c v\r\n", "EN\r\n"},
        {"mg b c v\r\n", "EN\r\n"},
        {"mg n c v\r\n", "EN\r\n"},
        {"mg c c v\r\n", "EN\r\n"},
        {"mg z c v\r\n", "EN\r\n"},
        {"mg q c v\r\n", "EN\r\n"},
        {"ms d 1 E1\r\n1\r\n", "HD\r\n"},
        {"ma d E2\r\n", "HD\r\n"},
        {"mg d c v\r\n", "VA 1 c2\r\n2\r\n"},
        /* a 2..4, ma a 5, ma d 6 (a vivifying ma draws none): the next set gets 7 */
        {"set e 0 0 1\r\nx\r\n", "STORED\r\n"},
        {"gets e\r\n", "VALUE e 0 1 7\r\nx\r\nEND\r\n"},
    };
    RUN(flags, x);
}

/* -C: E is not kept, and the same items go */
Test(flush_cas, no_cas_mode, .timeout = 30)
{
    static const char *const flags[] = {"-C", NULL};
    static const struct exchange x[] = {
        {"ms k 0 E123\r\n\r\n", "HD\r\n"},
        {"mg n N0 E5 c\r\n", "HD c0 W\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"mg k c\r\n", "EN\r\n"},
        {"mg n c\r\n", "EN\r\n"},
        {"ms k 0 E9\r\n\r\n", "HD\r\n"},
        {"mg k c\r\n", "HD c0\r\n"},
    };
    RUN(flags, x);
}

/* an item given a client's CAS in place (ma E, md I E) is copied when it
 * has no room for its flush generation: the copy keeps what a client sees,
 * here the stale mark and the win token */
Test(flush_cas, e_in_place_keeps_the_item_as_it_was, .timeout = 30)
{
    static const char *const flags[] = {NULL};
    static const struct exchange x[] = {
        {"ms j 2 T90 F9\r\n10\r\n", "HD\r\n"},
        {"md j I\r\n", "HD\r\n"},
        {"ma j E5\r\n", "HD\r\n"},
        {"mg j v c f t\r\n", "VA 2 c5 f9 t90 X W\r\n11\r\n"},
        {"mg j c\r\n", "HD c5 Z X\r\n"},
        {"md j I E7\r\n", "HD\r\n"},
        {"mg j v c f t\r\n", "VA 2 c7 f9 t90 X W\r\n11\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"mg j c\r\n", "EN\r\n"},
    };
    RUN(flags, x);
}
