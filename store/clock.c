/*
 * clock.c - relative time for the store.
 *
 * Owns `clock_now` (rel time, seconds) and `clock_epoch` (unix time at rel
 * 0). The server's once-a-second timer sets the clock; tests set it
 * directly to step over TTLs without sleeping. Both are atomics loaded and
 * stored relaxed: a reader one tick behind is harmless. No locks.
 */
#include "config.h"

#include "store/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic rel_time_t clock_now = CLOCK_START;
static _Atomic int64_t clock_epoch;

void
clock_setup(void)
{
    if (atomic_load_explicit(&clock_epoch, memory_order_relaxed) == 0)
        atomic_store_explicit(&clock_epoch, (int64_t)time(NULL) - store_clock_now(),
                              memory_order_relaxed);
}

void
store_clock_set(rel_time_t now)
{
    atomic_store_explicit(&clock_now, now, memory_order_relaxed);
}

rel_time_t
store_clock_now(void)
{
    return atomic_load_explicit(&clock_now, memory_order_relaxed);
}

void
store_clock_set_epoch(int64_t unix_start)
{
    atomic_store_explicit(&clock_epoch, unix_start, memory_order_relaxed);
}

int64_t
store_clock_epoch(void)
{
    return atomic_load_explicit(&clock_epoch, memory_order_relaxed);
}
