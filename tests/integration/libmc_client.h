/*
 * libmc_client.h - what the libmemcached suites (test_libmemcached.c over
 * ascii, test_libmemcached_binary.c over binary) share: a server and a
 * libmemcached client per test, and the get/set assertions. Include after
 * <criterion/criterion.h>; each suite's .init calls libmc_start() with its
 * protocol and its .fini is libmc_stop.
 */
#ifndef MCD_TESTS_LIBMC_CLIENT_H
#define MCD_TESTS_LIBMC_CLIENT_H

#include <libmemcached/memcached.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

static struct mcd_server *srv;
static memcached_st *mc;

/* Starts a server on its own port and a client talking `binary` or ascii. */
static inline void
libmc_start(bool binary)
{
    srv = mcd_start(NULL);
    cr_assert_not_null(srv, "server %s did not start", mcd_bin());
    mc = memcached_create(NULL);
    cr_assert_not_null(mc);
    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, binary), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL), binary);
    cr_assert_eq(memcached_server_add(mc, "127.0.0.1", (in_port_t)srv->port), MEMCACHED_SUCCESS);
}

static inline void
libmc_stop(void)
{
    memcached_free(mc);
    mcd_stop(srv);
}

/* Gets key; returns the malloc'd value (NULL on miss) and its rc. */
static inline char *
get(const char *key, size_t *len, uint32_t *flags, memcached_return_t *rc)
{
    return memcached_get(mc, key, strlen(key), len, flags, rc);
}

static inline void
assert_value(const char *key, const char *want, uint32_t want_flags)
{
    memcached_return_t rc;
    uint32_t flags = 0;
    size_t len = 0;
    char *v = get(key, &len, &flags, &rc);

    cr_assert_eq(rc, MEMCACHED_SUCCESS, "get %s: %s", key, memcached_strerror(mc, rc));
    if (*want == '\0' && v == NULL) /* libmemcached hands back NULL for an empty value */
        return;
    cr_assert_not_null(v);
    cr_assert_eq(len, strlen(want), "get %s: length %zu, want %zu", key, len, strlen(want));
    cr_assert_arr_eq(v, want, len, "get %s: wrong value", key);
    cr_assert_eq(flags, want_flags, "get %s: flags %u, want %u", key, flags, want_flags);
    free(v);
}

static inline void
assert_miss(const char *key)
{
    memcached_return_t rc;
    uint32_t flags;
    size_t len;
    char *v = get(key, &len, &flags, &rc);

    cr_assert_eq(rc, MEMCACHED_NOTFOUND, "get %s: %s", key, memcached_strerror(mc, rc));
    cr_assert_null(v);
}

static inline memcached_return_t
set(const char *key, const char *val, time_t exp, uint32_t flags)
{
    return memcached_set(mc, key, strlen(key), val, strlen(val), exp, flags);
}

#endif /* MCD_TESTS_LIBMC_CLIENT_H */
