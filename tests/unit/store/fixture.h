/*
 * fixture.h - the set-up that the store unit tests share: options with the
 * usual values (1 MB items, factor 1.25, 48-byte minimum, CAS on, evicting,
 * no background thread), a start that fails the test if store_setup does,
 * and the teardown. Include after <criterion/criterion.h>.
 */
#ifndef MCD_TESTS_STORE_FIXTURE_H
#define MCD_TESTS_STORE_FIXTURE_H

#include "store/store.h"

#include <string.h>

static inline struct store_options
store_test_opts(uint64_t mem_limit, unsigned hashpower)
{
    struct store_options o = {
        .mem_limit = mem_limit, .item_size_max = 1u << 20, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = hashpower,
    };
    return o;
}

/* Sets the store up with `o` (or fails the test), zeroes *ts when given,
 * and sets the clock to `now`. */
static inline void
store_test_start(struct store_options o, struct store_tstats *ts, rel_time_t now)
{
    if (ts != NULL)
        memset(ts, 0, sizeof(*ts));
    cr_assert_eq(store_setup(&o), 0);
    store_clock_set(now);
}

/* store_get() options: a look-up of the test's own, which counts nothing
 * and leaves the item's bits and atime alone; a counted get that does not
 * bump (mg u). */
static const struct store_get_opts store_test_peek = {.kind = STORE_GET_QUIET, .no_bump = true};
static const struct store_get_opts store_test_no_bump = {.no_bump = true};

/* The .fini of every test that started a store. */
static inline void
fini(void)
{
    store_teardown();
}

#endif /* MCD_TESTS_STORE_FIXTURE_H */
