/*
 * seg_engine.h - the segment store as a second engine behind store.h's
 * request API (-o item_store=segments): the same signatures and semantics
 * as store.h's, prefixed seg_engine_, for store/'s dispatch to call one to
 * one. `struct item *` is a segment item (store/seg/segment.h), cast.
 *
 * Shared with the slab store, not duplicated: the CAS counter (item.c's
 * item_cas_next(), so values are memcached's), the clock (clock.c), the
 * flush state of flush_all with and without a delay (expire.c: store_flush
 * and store_flush_delay serve both engines) and the flush_prefix table
 * (prefix.c; its retirement walks this engine's index once set up).
 *
 * Not declared here because there is nothing of the engine to them:
 * store_flush, store_flush_delay (expire.c's state is the engine's),
 * store_clock_*, store_exptime_convert, store_tstats_sum.
 */
#ifndef MCD_SEG_ENGINE_H
#define MCD_SEG_ENGINE_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mem_limit (segments of max(1 MB, item_size_max)), item_size_max (at most
 * 16 MB - 1 of value: -1 with EINVAL above), use_cas, evict_to_free (merge
 * eviction; off: STORE_NO_MEMORY), hashpower (the index starts at
 * 2^(hashpower - 2) buckets of 7 slots and grows with the items). No thread
 * is started: the caller's maintainer calls seg_engine_maintain(), which
 * also grows the index. */
int seg_engine_setup(const struct store_options *opts);
void seg_engine_teardown(void);

struct item *seg_engine_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint32_t nbytes,
                              struct store_tstats *ts, enum store_status *status);
struct item *seg_engine_get(const char *key, size_t nkey, const struct store_get_opts *o,
                            struct store_get_info *info, struct store_tstats *ts);
enum store_status seg_engine_link(struct item *it, const struct store_link_opts *o, struct store_link_out *out,
                                  struct store_tstats *ts);
enum store_status seg_engine_delete(const char *key, size_t nkey, const struct store_delete_opts *o,
                                    struct store_tstats *ts);
enum store_status seg_engine_arith(const char *key, size_t nkey, const struct store_arith_opts *o,
                                   struct store_arith_out *out, struct store_tstats *ts);
bool seg_engine_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out);
void seg_engine_meta_cas_skip(void);
/* flush_all [delay]: store_flush / store_flush_delay themselves work for
 * this engine (the state is shared); these are for a one-to-one dispatch. */
void seg_engine_flush(rel_time_t when);
int seg_engine_flush_prefix(const char *prefix, size_t n);
void seg_engine_info(struct store_info *out);
/* class 1, the only one: curr_items, the unfetched / reclaimed counters
 * of the expiry pass, evictions; the slab fields 0 */
bool seg_engine_class_info(unsigned id, struct store_class_info *out);
size_t seg_engine_max_value_len(size_t nkey);
/* The maintainer thread, once a second: seals the caller's old segments,
 * frees expired segments, retires flush_prefix registrations when many.
 * Returns the items reclaimed. */
uint64_t seg_engine_maintain(void);
void seg_engine_thread_tick(void);
void seg_engine_thread_release(void);

const char *seg_engine_item_key(const struct item *it);
uint8_t seg_engine_item_nkey(const struct item *it);
char *seg_engine_item_data(struct item *it);
uint32_t seg_engine_item_nbytes(const struct item *it);
uint32_t seg_engine_item_flags(const struct item *it);
uint64_t seg_engine_item_cas(const struct item *it);
/* store.h's item_view() on an engine item: its header read once */
void seg_engine_item_view(struct item *it, struct item_view *v);
rel_time_t seg_engine_item_exptime(const struct item *it);
rel_time_t seg_engine_item_atime(const struct item *it);
unsigned seg_engine_item_class(const struct item *it);
void seg_engine_item_release(struct item *it);
bool seg_engine_item_key_binary(const struct item *it);
void seg_engine_item_set_key_binary(struct item *it);

/* Walks of the index in slices (store/crawler.c: lru_crawler metadump and
 * mgdump, stats cachedump and sizes, lru_crawler crawl). The index grows
 * by splitting bucket p into p and p + 2^level, so the keys of a head
 * bucket b of the walk's first call stay in the buckets congruent to b
 * modulo that call's 2^level: the walk visits such a group at a time,
 * every member with items locked (in ascending order, as a split locks)
 * until the whole group is read. An item linked before the walk and left
 * alone is met exactly once; one linked or dropped meanwhile, at most
 * once. A dump copies a group's live items into the cursor's buffer and
 * hands them out from there; seg_engine_cursor_free() frees it. */
struct seg_engine_cursor {
    uint64_t group;                /* the next group */
    unsigned level0;               /* log2 of the number of groups */
    bool started;
    bool done;                     /* nothing left to hand out */
    struct store_dump_item *pend;  /* a dump: items of the last group not handed out */
    size_t npend, ipend, cap;
};
void seg_engine_cursor_free(struct seg_engine_cursor *c);
/* Up to `max` live items (expired, flushed and flush_prefix-hidden ones
 * left out) copied into out[]; may return 0 before the end (a bounded
 * number of buckets per call): the walk is over once c->done. */
size_t seg_engine_dump_next(struct seg_engine_cursor *c, struct store_dump_item *out, size_t max);
/* One batch of a crawl: looks at the items of a bounded number of
 * buckets, `budget` items at most (0: no bound), and unlinks the expired
 * and flushed ones (counted as reclaimed: crawler_reclaimed). Returns the
 * items looked at; c->done at the end. */
uint64_t seg_engine_crawl_next(struct seg_engine_cursor *c, uint64_t budget);

#endif /* MCD_SEG_ENGINE_H */
