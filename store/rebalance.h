/*
 * rebalance.h - the page mover: gives a class that has no memory left a
 * page taken from the class holding the most pages, evicting the items on
 * it. Without it a class that got no page before -m ran out could never
 * store anything (memcached hands such a class its pages through its slab
 * automover; mcd moves one page at the moment of need instead).
 */
#ifndef MCD_STORE_REBALANCE_H
#define MCD_STORE_REBALANCE_H

#include <stdbool.h>

#include "store/store.h"

struct slab_class;

/*
 * Moves one page from another class to `to`, evicting the items on it
 * (counted as evictions into `ts`). Takes the victim's class lock, then
 * `to`'s, never both at once; the caller holds neither (it may hold a stripe
 * lock: stripes are only trylocked here). False when no page could be
 * moved (no other class has one, or an item on the chosen page is in use).
 */
bool rebalance_move_page(struct slab_class *to, struct store_tstats *ts);

#endif /* MCD_STORE_REBALANCE_H */
