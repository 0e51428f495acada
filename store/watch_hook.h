/*
 * watch_hook.h - the store's side of `watch` (store.h declares the API):
 * the eviction hook the server installs, and the record of each thread's
 * last key lookup. Both cost one relaxed load and a branch while off.
 * Nothing here knows what a watcher or a protocol is.
 */
#ifndef MCD_WATCH_HOOK_H
#define MCD_WATCH_HOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct item;

extern _Atomic(store_evict_fn) store_int_evict_hook;
extern _Atomic bool store_int_trace_on;

/* Tells the hook about `it`, being evicted (class and stripe locks held). */
__attribute__((cold, noinline)) void store_int_evict_notify(struct item *it, rel_time_t now, store_evict_fn fn);
/* Records `it` (NULL: a miss) as the thread's last lookup. */
__attribute__((cold, noinline)) void store_int_trace_lookup(const struct item *it);
/* The same from the fields (the segment engine's items are not slab items). */
__attribute__((cold, noinline)) void store_int_trace_record(bool found, unsigned clsid, uint32_t nbytes);

static inline void store_int_evicting(struct item *it, rel_time_t now)
{
    store_evict_fn fn = atomic_load_explicit(&store_int_evict_hook, memory_order_relaxed);
    if (__builtin_expect(fn != NULL, 0))
        store_int_evict_notify(it, now, fn);
}

static inline void store_int_looked_up(const struct item *it)
{
    if (__builtin_expect(atomic_load_explicit(&store_int_trace_on, memory_order_relaxed), 0))
        store_int_trace_lookup(it);
}

#endif /* MCD_WATCH_HOOK_H */
