/*
 * store_compat.c - COMPAT: the calls of the store API before issue 17, in
 * terms of the one that replaced them, for server/ and fuzz/ until they
 * call that one. Removed with the block of store.h that declares them by
 * the commit "server: call the unified store API".
 */
#include "config.h"

#define MCD_STORE_NO_COMPAT /* the calls below are to the new functions */
#include "store/store.h"

struct item *
store_compat_get(const char *key, size_t nkey, bool count_get, bool no_bump, struct store_tstats *ts)
{
    struct store_get_opts o = {.kind = count_get ? STORE_GET_READ : STORE_GET_QUIET, .no_bump = no_bump};
    return store_get(key, nkey, &o, NULL, ts);
}

struct item *
store_get_touch(const char *key, size_t nkey, rel_time_t exptime, bool count_get, struct store_tstats *ts)
{
    struct store_get_opts o = {
        .kind = count_get ? STORE_GET_READ : STORE_GET_TOUCH, .touch = true, .touch_exptime = exptime,
    };
    return store_get(key, nkey, &o, NULL, ts);
}

struct item *
store_meta_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
               struct store_tstats *ts)
{
    struct store_get_opts m = *o;
    m.kind = STORE_GET_META;
    return store_get(key, nkey, &m, info, ts);
}

enum store_status
store_compat_link(struct item *it, enum store_mode mode, uint64_t cas, uint64_t *cas_out, struct store_tstats *ts)
{
    struct store_link_out out = {0};
    enum store_status st = store_link(it, &(struct store_link_opts){.mode = mode, .cas = cas}, &out, ts);
    if (st == STORE_OK && cas_out != NULL)
        *cas_out = out.cas;
    return st;
}

enum store_status
store_meta_link(struct item *it, const struct store_link_opts *o, uint64_t *cas_out, uint32_t *size_out,
                struct store_tstats *ts)
{
    struct store_link_out out = {0};
    enum store_status st = store_link(it, o, &out, ts);
    if (st == STORE_OK && cas_out != NULL)
        *cas_out = out.cas;
    *size_out = out.size;
    return st;
}

enum store_status
store_compat_delete(const char *key, size_t nkey, uint64_t cas, struct store_tstats *ts)
{
    return store_delete(key, nkey, &(struct store_delete_opts){.cas = cas}, ts);
}

enum store_status
store_meta_delete(const char *key, size_t nkey, const struct store_delete_opts *o, struct store_tstats *ts)
{
    return store_delete(key, nkey, o, ts);
}

enum store_status
store_compat_arith(const char *key, size_t nkey, bool incr, uint64_t delta, uint64_t cas, uint64_t *result,
                   uint64_t *cas_out, struct store_tstats *ts)
{
    struct store_arith_out out = {0};
    enum store_status st =
        store_arith(key, nkey, &(struct store_arith_opts){.decr = !incr, .delta = delta, .cas = cas}, &out, ts);
    if (st == STORE_OK) {
        if (result != NULL)
            *result = out.value;
        if (cas_out != NULL)
            *cas_out = out.cas;
    }
    return st;
}

enum store_status
store_meta_arith(const char *key, size_t nkey, const struct store_meta_arith_opts *o, uint64_t *result,
                 uint64_t *cas_out, rel_time_t *exptime_out, bool *created, struct store_tstats *ts)
{
    struct store_arith_opts a = {
        .decr = !o->incr, .delta = o->delta, .cas = o->cas, .vivify = o->vivify,
        .vivify_exptime = o->vivify_exptime, .initial = o->initial, .touch = o->touch,
        .touch_exptime = o->touch_exptime, .has_new_cas = o->has_new_cas, .new_cas = o->new_cas,
        .key_binary = o->key_binary,
    };
    struct store_arith_out out = {0};
    enum store_status st = store_arith(key, nkey, &a, &out, ts);
    *created = false;
    if (st == STORE_OK) {
        if (result != NULL)
            *result = out.value;
        if (cas_out != NULL)
            *cas_out = out.cas;
        if (exptime_out != NULL)
            *exptime_out = out.exptime_before;
        *created = out.created;
    }
    return st;
}
