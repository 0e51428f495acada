/*
 * clock.h - the store's relative clock (seconds since start) and epoch.
 *
 * Owns: the current rel time and the unix time of rel time 0. Both are
 * atomics written by one timer thread (or a test) and read anywhere with
 * relaxed loads; no lock.
 */
#ifndef MCD_STORE_CLOCK_H
#define MCD_STORE_CLOCK_H

#include "store/store.h"

/* Rel time the clock holds right after setup. Never 0, so that an
 * already-expired exptime (1) is always in the past. */
#define CLOCK_START 2

/* Sets the epoch from the current unix time, unless the server set one. */
void clock_setup(void);

#endif /* MCD_STORE_CLOCK_H */
