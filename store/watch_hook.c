/*
 * watch_hook.c - the eviction hook and the per-thread record of the last
 * key lookup (see watch_hook.h). The record is thread-local: only its
 * thread writes or reads it.
 */
#include "config.h"

#include "store/watch_hook.h"

#include "store/item.h"

_Atomic(store_evict_fn) store_int_evict_hook;
_Atomic bool store_int_trace_on;

static _Thread_local struct store_lookup last;

void store_set_evict_hook(store_evict_fn fn)
{
    atomic_store_explicit(&store_int_evict_hook, fn, memory_order_relaxed);
}

void store_trace_lookups(bool on)
{
    atomic_store_explicit(&store_int_trace_on, on, memory_order_relaxed);
}

void store_last_lookup(struct store_lookup *out)
{
    *out = last;
}

void store_int_trace_lookup(const struct item *it)
{
    if (it == NULL) {
        last = (struct store_lookup){0};
        return;
    }
    last = (struct store_lookup){.found = true, .clsid = item_class(it), .nbytes = item_nbytes(it)};
}

void store_int_trace_record(bool found, unsigned clsid, uint32_t nbytes)
{
    last = found ? (struct store_lookup){.found = true, .clsid = clsid, .nbytes = nbytes} : (struct store_lookup){0};
}

void store_int_evict_notify(struct item *it, rel_time_t now, store_evict_fn fn)
{
    struct store_evict_info ev = {
        .key = item_key(it),
        .nkey = item_nkey(it),
        .fetched = (item_iflags(it) & ITEM_FETCHED) != 0,
        .exptime = item_exptime(it),
        .atime = item_atime(it),
        .now = now,
        .clsid = item_class(it),
        .nbytes = item_nbytes(it),
    };
    fn(&ev);
}
