/*
 * debug.h - the store's self-checks, on in a --enable-debug build only.
 *
 * STORE_ASSERT(e) is assert(e): it checks an invariant the store's
 * comments state (refcounts, chunk ownership, lock held, hash chains).
 * A release build defines NDEBUG, and then every check here, and the
 * lock owner records behind the assert_locked helpers (hashtable.h,
 * slab.h), compile to nothing: no field, no store, no branch.
 *
 * A lock owner record is one word per lock: the holder's thread tag (the
 * address of a thread-local byte, never 0) stored after the lock is taken
 * and cleared before it is given back. Only the holder writes it while
 * the lock is held, so "the record is my tag" is exact; it is an atomic so
 * that another thread's read of it is not a data race.
 */
#ifndef MCD_STORE_DEBUG_H
#define MCD_STORE_DEBUG_H

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>

#ifdef NDEBUG
#define STORE_DEBUG 0
#define STORE_ASSERT(e) ((void)0)
#else
#define STORE_DEBUG 1
#define STORE_ASSERT(e) assert(e)

/* This thread's tag for the owner records: never 0. One byte for the
 * whole store (debug.c), not one per file. */
extern _Thread_local char store_debug_tag;
static inline uintptr_t
store_debug_self(void)
{
    return (uintptr_t)&store_debug_tag;
}
static inline void
store_debug_own(_Atomic uintptr_t *owner)
{
    assert(atomic_load_explicit(owner, memory_order_relaxed) == 0);
    atomic_store_explicit(owner, store_debug_self(), memory_order_relaxed);
}
static inline void
store_debug_disown(_Atomic uintptr_t *owner)
{
    assert(atomic_load_explicit(owner, memory_order_relaxed) == store_debug_self());
    atomic_store_explicit(owner, 0, memory_order_relaxed);
}
static inline int
store_debug_owned(const _Atomic uintptr_t *owner)
{
    return atomic_load_explicit(owner, memory_order_relaxed) == store_debug_self();
}
#endif

#endif /* MCD_STORE_DEBUG_H */
