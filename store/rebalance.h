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

/* Gives a page that belongs to no class (emptied by a drain) to `to`, or
 * to the global page pool when `to` is NULL. No lock held. */
bool rebalance_give_page(struct slab_class *to, char *page);

/* The background mover's drain of one page (rebalance.c's comment). */
struct rebalance_drain {
    struct slab_class *from;
    char *page;
    bool started;
};
enum rebalance_pass {
    REBALANCE_DONE,   /* the page left its class: the caller owns it */
    REBALANCE_BUSY,   /* chunks in use: pass again later */
    REBALANCE_GONE,   /* the page is no longer the class's (the on-demand mover took it) */
};
struct rebalance_counts {
    uint64_t rescues;         /* live items copied into other chunks of their class */
    uint64_t evictions;       /* live items dropped: no free chunk to rescue them into */
    uint64_t busy_items;      /* chunks found in use, a pass each */
    uint64_t inline_reclaim;  /* free chunks taken off the free list */
};
/* Chooses the page of v to drain (the one under its CLOCK hand); false
 * when v has fewer than `min_pages` pages (or none). No lock held. */
bool rebalance_drain_start(struct slab_class *v, size_t min_pages, struct rebalance_drain *d);
/* One pass; takes registry_lock then the class lock. No lock held. */
enum rebalance_pass rebalance_drain_pass(struct rebalance_drain *d, struct rebalance_counts *n);
/* Gives up a drain that is not DONE: the chunks the mover holds go back
 * to the class's free list. No lock held. */
void rebalance_drain_abandon(struct rebalance_drain *d);

#endif /* MCD_STORE_REBALANCE_H */
