/* seg_engine_stub.c - placeholder until the segment engine lands: setup fails (ENOSYS). */
#include "config.h"

#include "store/seg/seg_engine.h"

#include <errno.h>
#include <stdlib.h>

int
seg_engine_setup(const struct store_options *opts)
{
    (void)opts;
    errno = ENOSYS;
    return -1;
}

void
seg_engine_teardown(void)
{
}

struct item *
seg_engine_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint32_t nbytes, struct store_tstats *ts, enum store_status *status)
{
    (void)key;
    (void)nkey;
    (void)flags;
    (void)exptime;
    (void)nbytes;
    (void)ts;
    (void)status;
    abort();
}

struct item *
seg_engine_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info, struct store_tstats *ts)
{
    (void)key;
    (void)nkey;
    (void)o;
    (void)info;
    (void)ts;
    abort();
}

enum store_status
seg_engine_link(struct item *it, const struct store_link_opts *o, struct store_link_out *out, struct store_tstats *ts)
{
    (void)it;
    (void)o;
    (void)out;
    (void)ts;
    abort();
}

enum store_status
seg_engine_delete(const char *key, size_t nkey, const struct store_delete_opts *o, struct store_tstats *ts)
{
    (void)key;
    (void)nkey;
    (void)o;
    (void)ts;
    abort();
}

enum store_status
seg_engine_arith(const char *key, size_t nkey, const struct store_arith_opts *o, struct store_arith_out *out, struct store_tstats *ts)
{
    (void)key;
    (void)nkey;
    (void)o;
    (void)out;
    (void)ts;
    abort();
}

bool
seg_engine_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out)
{
    (void)key;
    (void)nkey;
    (void)out;
    abort();
}

void
seg_engine_meta_cas_skip(void)
{
}

void
seg_engine_flush(rel_time_t when)
{
    (void)when;
}

void
seg_engine_flush_delay(int64_t delay)
{
    (void)delay;
}

int
seg_engine_flush_prefix(const char *prefix, size_t n)
{
    (void)prefix;
    (void)n;
    abort();
}

void
seg_engine_info(struct store_info *out)
{
    (void)out;
}

size_t
seg_engine_max_value_len(size_t nkey)
{
    (void)nkey;
    abort();
}

void
seg_engine_maintain(void)
{
}

void
seg_engine_thread_tick(void)
{
}

void
seg_engine_thread_release(void)
{
}

const char *
seg_engine_item_key(const struct item *it)
{
    (void)it;
    abort();
}

uint8_t
seg_engine_item_nkey(const struct item *it)
{
    (void)it;
    abort();
}

char *
seg_engine_item_data(struct item *it)
{
    (void)it;
    abort();
}

uint32_t
seg_engine_item_nbytes(const struct item *it)
{
    (void)it;
    abort();
}

uint32_t
seg_engine_item_flags(const struct item *it)
{
    (void)it;
    abort();
}

uint64_t
seg_engine_item_cas(const struct item *it)
{
    (void)it;
    abort();
}

rel_time_t
seg_engine_item_exptime(const struct item *it)
{
    (void)it;
    abort();
}

rel_time_t
seg_engine_item_atime(const struct item *it)
{
    (void)it;
    abort();
}

unsigned
seg_engine_item_class(const struct item *it)
{
    (void)it;
    abort();
}

void
seg_engine_item_release(struct item *it)
{
    (void)it;
}

bool
seg_engine_item_key_binary(const struct item *it)
{
    (void)it;
    abort();
}

void
seg_engine_item_set_key_binary(struct item *it)
{
    (void)it;
}
