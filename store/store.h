/*
 * store.h - the facade of the item store: the only header server/ includes
 * from store/.
 *
 * The store owns item memory (slab classes carved from 1 MB pages of one
 * address-space reservation of -m bytes), the hash table (lock-striped,
 * grown incrementally in the background), CLOCK replacement per slab
 * class, TTL expiry, flush_all and the
 * per-class accounting behind `stats slabs` / `stats items`.
 * It knows nothing of protocols, sockets or libevent: it is handed its
 * options at setup, its time through store_clock_set(), and a per-thread
 * counter block on every call (the caller's thread is the only writer of
 * that block; readers sum blocks with store_tstats_sum()).
 *
 * Items are reference counted. Every function that returns a `struct item *`
 * hands the caller one reference, which the caller gives back with
 * item_release() once it no longer reads the item (for a GET: once the
 * value has been written to the socket). A linked item also holds one
 * reference of its own. Item memory is never freed while referenced.
 *
 * Thread safety: every function here may be called from any thread at any
 * time, except setup/teardown. Lock order: see doc/threads.md.
 */
#ifndef MCD_STORE_H
#define MCD_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What this file declares is the store's API, the only symbols that
 * store/libmcdstore.a exports (store/local.am): store/ is compiled with
 * -fvisibility=hidden, and these declarations alone are default. */
#pragma GCC visibility push(default)

#define STORE_KEY_MAX 250            /* longest key, in bytes */
#define STORE_CLASSES_MAX 64         /* slab class ids are 1..STORE_CLASSES_MAX-1 */
#define STORE_MEM_LIMIT_MAX ((uint64_t)1 << 40) /* the largest mem_limit: 1 TB (store/slab.h) */
#define STORE_HASHPOWER_DEFAULT 16 /* log2 of the initial hash table size */
#define STORE_REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* above: absolute unix time */

/* Seconds since the store started (memcached's rel_time_t). */
typedef uint32_t rel_time_t;

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,     /* no live item under the key */
    STORE_EXISTS,        /* CAS mismatch */
    STORE_NOT_STORED,    /* add on a live key, replace/append/prepend on a missing one */
    STORE_NO_MEMORY,     /* could not allocate (eviction off with -M, or nothing evictable) */
    STORE_TOO_LARGE,     /* item would not fit the largest slab class */
    STORE_NON_NUMERIC,   /* incr/decr on a value that is not a decimal number */
};

enum store_mode {         /* how store_link() combines a new item with an existing one */
    STORE_SET = 0,
    STORE_ADD,
    STORE_REPLACE,
    STORE_APPEND,
    STORE_PREPEND,
    STORE_CAS,
};

struct store_options {
    size_t mem_limit;          /* -m, bytes of item memory (pages) at most */
    size_t item_size_max;      /* -I, bytes; also the page size when > 1 MB */
    double factor;             /* -f, growth factor between classes (> 1.0) */
    unsigned chunk_size;       /* -n, minimum key+value+flags space of the smallest class */
    bool use_cas;              /* false with -C: items carry no CAS value (CAS reads as 0) */
    bool evict_to_free;        /* false with -M: out of memory instead of evicting */
    unsigned hashpower;        /* log2 of the initial hash table size (-o hashpower);
                                  0: STORE_HASHPOWER_DEFAULT */
    bool background_threads;   /* start the maintainer thread (hash growth, expiry sweep) */
    bool no_sweep;             /* the maintainer thread only grows the hash table, it
                                  does not sweep expired items (-o no_lru_crawler) */
    /* the page mover's thread (store/automove.c), started with the
     * background threads: slabs reassign, the automover, cache_memlimit */
    unsigned automove;         /* 0 off, 1 windowed ages, 2 on every eviction */
    double automove_ratio;     /* youngest age < ratio x oldest age: move (0: 0.8) */
    unsigned automove_window;  /* seconds of samples (0: 10) */
    /* -o item_store=segments: the segment store (store/seg/) serves every
     * call instead (store/engine.h); the slab-only calls (class info,
     * page moves, the crawler, dumps) then answer as if there were none */
    bool segments;
    /* -L (memcached's --enable-largepages): the item arena starts on a
     * 2 MB boundary and is advised MADV_HUGEPAGE (transparent huge pages);
     * the slab engine also makes its first mem_limit bytes writable at
     * once (untouched: memory still appears as items are written), the
     * segment engine's arena and index heads are writable already. A
     * kernel that refuses the advice leaves ordinary pages. Read at setup
     * only (store/largepage.h, doc/memory.md) */
    bool large_pages;
};

/*
 * Per-thread counters. Each worker owns one block and is its only writer;
 * the fields are atomics only so that a reader on another thread may load
 * them without a data race: writers use STAT_INC/STAT_ADD (relaxed load +
 * relaxed store, a plain increment on x86, no locked instruction).
 */
typedef _Atomic uint64_t store_counter_t;

#define STORE_SLAB_TSTATS(X) \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) \
    X(cas_hits) X(cas_badval) X(touch_hits)

#define STORE_TSTATS(X) \
    X(get_cmds) X(get_misses) X(get_expired) X(get_flushed) \
    X(touch_cmds) X(touch_misses) X(delete_misses) \
    X(incr_misses) X(decr_misses) X(cas_misses) \
    X(evictions) X(reclaimed) X(expired_unfetched) X(evicted_unfetched) \
    X(evicted_active) X(total_items)

struct store_slab_tstats {
#define X(name) store_counter_t name;
    STORE_SLAB_TSTATS(X)
#undef X
};

struct store_tstats {
#define X(name) store_counter_t name;
    STORE_TSTATS(X)
#undef X
    struct store_slab_tstats slab[STORE_CLASSES_MAX];
};

#define STAT_ADD(field, n) \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define STAT_INC(field) STAT_ADD(field, 1)

/* A plain (non-atomic) copy of counters, for summing and printing. */
struct store_slab_tstats_snap {
#define X(name) uint64_t name;
    STORE_SLAB_TSTATS(X)
#undef X
};
struct store_tstats_snap {
#define X(name) uint64_t name;
    STORE_TSTATS(X)
#undef X
    struct store_slab_tstats_snap slab[STORE_CLASSES_MAX];
};

/* Adds the counters of `t` into `sum`. */
void store_tstats_sum(struct store_tstats_snap *sum, const struct store_tstats *t);

/*
 * The item as the rest of the program sees it: opaque, read through
 * accessors. Layout and its diagram live in store/item.h.
 */
struct item;

const char *item_key(const struct item *it);
uint8_t item_nkey(const struct item *it);
/* Value bytes, without any "\r\n" terminator (the store keeps none). */
char *item_data(struct item *it);
uint32_t item_nbytes(const struct item *it);
uint32_t item_flags(const struct item *it);
uint64_t item_cas(const struct item *it);     /* 0 under -C */
rel_time_t item_exptime(const struct item *it); /* 0 = never */
rel_time_t item_atime(const struct item *it);
unsigned item_class(const struct item *it);

/* Gives back one reference. Frees the chunk when the last one goes. */
void item_release(struct item *it);
/* What a reply needs of an item, in one call: one engine branch
 * (store/engine.h) instead of one per accessor on the GET path. */
struct item_view {
    const char *key;
    char *data;
    uint64_t cas;       /* 0 under -C */
    uint32_t nbytes;
    uint32_t flags;
    uint8_t nkey;
};
void item_view(struct item *it, struct item_view *v);

/* ---- life cycle ---- */

/* Builds slab classes and the hash table; starts the maintainer thread
 * when opts->background_threads (which grows the hash table, and sweeps
 * expired items unless opts->no_sweep). Returns 0, or -1 with errno set. */
int store_setup(const struct store_options *opts);
/* Stops the maintainer thread and frees all memory. No call may be in flight. */
void store_teardown(void);
/* Whether the segment engine serves the store (opts->segments). */
bool store_segments(void);
/* Each worker thread, once a second: the segment engine seals the thread's
 * own append segments that are full enough or too old (no-op on slabs). */
void store_thread_tick(void);
/* A worker thread that stops for good (no-op on slabs). */
void store_thread_release(void);

/* ---- time ---- */

/* The store's notion of now, in seconds since start. Set by the server's
 * once-a-second timer, and by tests directly. */
void store_clock_set(rel_time_t now);
rel_time_t store_clock_now(void);
/* Unix time at which rel time 0 was (memcached's process_started). */
void store_clock_set_epoch(int64_t unix_start);
int64_t store_clock_epoch(void);
/* memcached's realtime(): converts a client exptime (0 never, <= 30 days
 * relative, above that absolute unix time, negative already expired) to a
 * rel_time_t; 0 means never. An already-expired time maps to a value <= now
 * (never 0). */
rel_time_t store_exptime_convert(int64_t exptime);

/* ---- the operations ----
 *
 * One call per operation: store_get, store_link, store_delete, store_arith.
 * Each takes its options as a struct whose zero value is the plain classic
 * command (get, set, delete, incr); a NULL options pointer means the same.
 * The meta commands' flags are more fields of the same structs. Every
 * call takes the key's stripe lock once, from look-up to the end of the
 * change, and counts into `ts` as memcached counts the command.
 *
 * The meta protocol's extra item state lives in two iflags bits: "stale"
 * (invalidated by md I, or stored by ms with an older CAS and I) and "token
 * sent" (one client was handed the right to recache, W; everybody else
 * now gets Z). Both are read and changed only under the key's stripe lock,
 * so exactly one caller ever wins a given token. A relinked item (any
 * set) starts clean.
 */

/*
 * Allocates an unlinked item with room for a value of `nbytes` bytes, for
 * the caller to fill (item_data()) and then link with store_link(). May
 * evict at the class's CLOCK hand (counted into `ts`). Returns NULL and sets
 * *status to STORE_TOO_LARGE (too big for any class) or STORE_NO_MEMORY.
 * `exptime` is already converted (store_exptime_convert).
 */
struct item *store_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime,
                         uint32_t nbytes, struct store_tstats *ts, enum store_status *status);

/* Largest value length that can ever be stored for a key of nkey bytes. */
size_t store_max_value_len(size_t nkey);

/* b: the item's key was sent base64 encoded; meta replies encode it back.
 * Set on an item not linked yet (from store_alloc). */
bool item_key_binary(const struct item *it);
void item_set_key_binary(struct item *it);

/* ---- get ---- */

/* Which command a store_get() is, for its counters (and mg's token). */
enum store_get_kind {         /* (the kinds from TOUCH on do not count expired items met) */
    STORE_GET_READ = 0,         /* get, gets; with `touch`: gat, gats */
    STORE_GET_META,             /* mg: its counters, and its win token */
    STORE_GET_TOUCH,            /* touch: counts touch_* only */
    STORE_GET_QUIET,            /* a look-up of the caller's own: counts nothing */
};

struct store_get_opts {
    enum store_get_kind kind;
    bool no_bump;               /* u: no ACTIVE bit, no "fetched" mark, atime kept */
    bool touch;                 /* T, gat, touch: on a hit, set the exptime to touch_exptime */
    rel_time_t touch_exptime;
    /* mg's flags */
    bool vivify;                /* N: on a miss, create an empty item (flags 0) */
    rel_time_t vivify_exptime;  /*    with this exptime; its caller wins */
    bool recache;               /* R: win when 0 < exptime < recache_time */
    rel_time_t recache_time;
    bool recache_after_touch;   /* R comes after T: it sees T's exptime */
    bool has_new_cas;           /* E: a vivified item gets new_cas */
    uint64_t new_cas;
    bool key_binary;            /* b: a vivified item's key is binary */
    bool no_token;              /* the reply fails (O too long): hand out no win token */
};

struct store_get_info {
    bool created;               /* vivified by this call */
    bool hit_before;            /* fetched before this call */
    rel_time_t atime_before;    /* last access before this call */
    rel_time_t exptime_before;  /* 0 = never (created: 0) */
    bool stale;                 /* X */
    bool token_sent;            /* a winner was told before this call: Z */
    bool win;                   /* this call wins: W (the token is now sent) */
};

/*
 * Looks a key up and applies the options, all under the stripe lock.
 * Returns the live item with a reference (also when created), or NULL on a
 * miss (expired or flushed items met are unlinked, and counted as
 * get_expired / get_flushed but by touch and quiet look-ups). A hit marks
 * the item fetched and ACTIVE for the CLOCK hand (atime refreshed at most
 * once a minute) unless `no_bump`. `info` (may be NULL) receives what mg
 * reports. Counts, as memcached:
 *   READ   get_cmds, get_hits (per class) / get_misses; with `touch` also
 *          touch_cmds, touch_hits / touch_misses (gat)
 *   TOUCH  touch_cmds, touch_hits / touch_misses
 *   META   a hit get_cmds+get_hits, or with touch touch_cmds+touch_hits
 *          instead; a miss get_cmds+get_misses; a vivified miss get_cmds+
 *          get_hits+total_items
 *   QUIET  nothing
 * Only META hands out the win token (W: a stale item, or R's window).
 */
struct item *store_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
                       struct store_tstats *ts);

/* ---- link (set, add, replace, append, prepend, cas; ms) ---- */

struct store_link_opts {
    enum store_mode mode;       /* 0: SET */
    bool has_cas;               /* C: `cas` must match, 0 included (CAS mode too) */
    uint64_t cas;               /* non-zero: has_cas (text cas, binary) */
    bool invalidate;            /* I: a lower `cas` stores, stale */
    bool has_new_cas;           /* E: the stored item gets `new_cas` */
    uint64_t new_cas;
    bool vivify;                /* N: append/prepend on a miss stores `it` */
    rel_time_t vivify_exptime;  /*    with this exptime */
};

struct store_link_out {
    uint64_t cas;               /* stored: the item's CAS */
    uint32_t size;              /* the value stored (append: the whole), or `it`'s when not */
    rel_time_t exptime;         /* likewise: the stored item's (append: old's), or `it`'s */
    unsigned clsid;             /* likewise: its slab class */
};

/*
 * Links a filled item under its key according to o->mode:
 * SET always; ADD only if no live item; REPLACE only if one; APPEND/PREPEND
 * build a new item holding old+new (old's flags and exptime kept); CAS only
 * if the live item's CAS equals `cas` (STORE_EXISTS if not, or if it is 0;
 * STORE_NOT_FOUND if no live item).
 * CAS rules for the other modes, as memcached's do_store_item: a CAS
 * (has_cas, or a non-zero `cas`) turns SET/ADD/REPLACE into CAS;
 * APPEND/PREPEND with a non-zero one answer STORE_EXISTS when a live item's
 * CAS differs, and STORE_NOT_STORED when there is none (or when the
 * combined value would be too large for any class). Without CAS (-C,
 * use_cas false) items have no CAS to compare: a non-zero `cas` alone is
 * ignored, and a CAS mode (or has_cas) never matches.
 * On success the item gets a new CAS value (E's with has_new_cas), which
 * `out` receives (may be NULL). Counts cmd_set/cas_* into `ts`. The caller
 * keeps its reference to `it` and must still item_release() it.
 */
enum store_status store_link(struct item *it, const struct store_link_opts *o, struct store_link_out *out,
                             struct store_tstats *ts);

/* ms whose opaque is too long: stores nothing but uses up a CAS value,
 * as memcached 1.6.45 does (so the next item's CAS matches). */
void store_meta_cas_skip(void);

/* ---- delete (delete, md) ---- */

struct store_delete_opts {
    bool has_cas;               /* C: only when `cas` matches, 0 included */
    uint64_t cas;               /* non-zero: has_cas */
    bool invalidate;            /* I: mark stale with a new CAS (or E's) instead */
    bool remove_value;          /* x: replace by an empty item (`flags`, exptime from T or none) */
    bool set_ttl;               /* T with I or x: the new exptime */
    rel_time_t exptime;
    bool has_new_cas;           /* E */
    uint64_t new_cas;
    bool key_binary;            /* x: the emptied item's key is binary (b) */
    uint32_t flags;             /* x: the emptied item's client flags (F, else 0) */
};

/* Unlinks the live item under key; with `invalidate` marks it stale with a
 * new CAS (or E's), clears its token-sent state and, when `set_ttl`, sets
 * its exptime; with `remove_value` links an empty item in its place.
 * STORE_EXISTS when a CAS is given and differs. Counts delete_hits (plain
 * delete) / delete_misses. */
enum store_status store_delete(const char *key, size_t nkey, const struct store_delete_opts *o,
                               struct store_tstats *ts);

/* ---- arith (incr, decr, ma) ---- */

struct store_arith_opts {
    bool decr;                  /* 0: incr */
    uint64_t delta;
    uint64_t cas;               /* != 0: only on a match */
    bool vivify;                /* N: a miss creates `initial` (no delta applied) */
    rel_time_t vivify_exptime;
    uint64_t initial;
    bool touch;                 /* T: on success set the exptime */
    rel_time_t touch_exptime;
    bool has_new_cas;           /* E: on success the item gets new_cas */
    uint64_t new_cas;
    bool key_binary;            /* b: a created item's key is binary */
};

struct store_arith_out {
    uint64_t value;             /* the value after */
    uint64_t cas;               /* the item's CAS after */
    rel_time_t exptime_before;  /* before T (0 when created) */
    bool created;               /* a vivified miss */
};

/*
 * incr or decr of the live decimal value under key by delta. incr wraps at
 * 2^64; decr floors at 0. The result is written as text into the item (in
 * place when the length allows, else into a new item) and into `out` (may
 * be NULL). STORE_NON_NUMERIC when the value is not a number of at most 20
 * digits (an empty value too, before the CAS is compared). Counts
 * incr_hits, incr_misses, decr_hits, decr_misses (and total_items when
 * created).
 */
enum store_status store_arith(const char *key, size_t nkey, const struct store_arith_opts *o,
                              struct store_arith_out *out, struct store_tstats *ts);

/* me: the item's internals, without touching it. False on a miss. */
struct store_meta_debug_info {
    rel_time_t exptime;
    rel_time_t atime;
    uint64_t cas;
    bool fetched;
    unsigned cls;
    size_t size;
    bool key_binary;
};
bool store_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out);

/* flush_all: every item whose time is before `when` (rel time; <= now means
 * immediately) is invalid from `when` on. */
void store_flush(rel_time_t when);
/* flush_all with the client's delay (0: none), with memcached 1.6.45's
 * rules for a delay of 1, over 30 days, or in the past: expire.c. */
void store_flush_delay(int64_t delay);

/* ---- flush_prefix (store/prefix.h) ---- */

/* Every item linked now whose key starts with prefix[0..n) is flushed (for
 * every operation, as by flush_all); keys linked afterwards are not. The
 * cost does not depend on how many keys match: a registration checked on
 * look-up. Past PREFIX_MAX (1024) live prefixes, this call first retires
 * the oldest half by one walk of the hash table. 0, or -1 when n is 0 or
 * over STORE_KEY_MAX. */
int store_flush_prefix(const char *prefix, size_t n);

struct store_prefix_info {
    uint64_t live;              /* prefixes registered now */
    uint64_t flushes;           /* store_flush_prefix() calls */
    uint64_t retired;           /* registrations retired by a walk */
    uint64_t walks;             /* hash table walks that retired some */
    uint64_t reclaimed;         /* items those walks unlinked */
};
void store_prefix_info(struct store_prefix_info *out);

/* ---- statistics for `stats`, `stats slabs`, `stats items` ---- */

struct store_class_info {
    unsigned id;
    uint32_t chunk_size;        /* bytes per chunk */
    uint32_t chunks_per_page;
    uint64_t total_pages;
    uint64_t total_chunks;
    uint64_t used_chunks;       /* items plus chunks held by references */
    uint64_t free_chunks;       /* on the free list or in threads' chunk caches */
    uint64_t free_chunks_end;   /* never used, at the end of the newest page */
    uint64_t mem_requested;     /* sum of the exact sizes of stored items */
    /* replacement (stats items) */
    uint64_t curr_items;
    rel_time_t oldest_age;      /* now - atime of the item at the CLOCK hand (an approximation of the oldest); 0 when empty */
    uint64_t evicted_time;      /* seconds since last access of the last evicted item */
    uint64_t outofmemory;
    uint64_t tailrepairs;
    uint64_t expired_unfetched;
    uint64_t evicted_unfetched;
    uint64_t evicted_active;
    uint64_t crawler_reclaimed;
    /* added by store/ (after the original fields) */
    uint64_t evicted;           /* items evicted at this class's CLOCK hand */
    uint64_t reclaimed;         /* expired/flushed items reused at allocation */
    uint64_t lock_taken;        /* times the class lock was taken (not in `stats`) */
};

struct store_info {
    uint64_t curr_items;
    uint64_t bytes;             /* sum of item sizes (header+key+value) of linked items */
    uint64_t limit_maxbytes;
    uint64_t total_malloced;    /* page memory taken so far */
    uint64_t hash_power_level;
    uint64_t hash_bytes;
    bool hash_is_expanding;
    uint64_t slab_global_page_pool;
    uint64_t malloc_fails;
    /* the page mover (store/automove.c) */
    uint64_t slab_reassign_running;
    uint64_t slabs_moved;
    uint64_t slab_reassign_rescues;
    uint64_t slab_reassign_evictions;
    uint64_t slab_reassign_inline_reclaim;
    uint64_t slab_reassign_busy_items;
    const char *slab_reassign_last_busy_status; /* "none", or "busy_active" once a page was held */
    uint64_t expired_reclaimed; /* by the background sweep (crawler_reclaimed) */
    unsigned active_classes;    /* number of classes with at least one page */
};

void store_info(struct store_info *out);
/* Fills info for class `id` (1-based). Returns false when no such class. */
bool store_class_info(unsigned id, struct store_class_info *out);
/* Number of slab classes built (ids 1..n). */
unsigned store_class_count(void);

/* ---- moving pages between classes (store/automove.c) ---- */

/* `slabs reassign SRC DST`: memcached 1.6.45's outcomes, in its order of
 * checks. SRC -1 picks a class with a page to spare; 0 as SRC or DST is
 * the global page pool. The move itself runs on the mover thread. */
enum store_reassign {
    STORE_REASSIGN_OK = 0,
    STORE_REASSIGN_BUSY,       /* a move is under way */
    STORE_REASSIGN_BADCLASS,   /* no such class */
    STORE_REASSIGN_NOSPARE,    /* SRC (the pool too) has fewer than 2 pages */
    STORE_REASSIGN_SAME,       /* SRC == DST */
};
enum store_reassign store_slabs_reassign(int64_t src, int64_t dst);
/* `slabs automove 0|1|2` */
void store_slabs_automove_set(unsigned mode);
unsigned store_slabs_automove(void);
/* cache_memlimit: the new -m in bytes. False when above what the arena
 * reserved (store_mem_limit_max()). A smaller limit is reached by the
 * mover thread, which empties pages and gives them back to the OS. */
bool store_mem_limit_set(uint64_t bytes);
uint64_t store_mem_limit_max(void);

/* Runs one pass of the background work synchronously (expiry sweep of every
 * class, one hash expansion step if due). For tests and for the maintainer
 * thread itself. Returns the number of items reclaimed. */
uint64_t store_maintain(void);

/* ---- the crawler (store/crawler.c): dumps and crawls over the chunks ----
 *
 * A dump walks every page of the chosen classes in page order, a bounded
 * batch of chunks per call under the class lock, and hands back the live
 * items (expired and flushed ones left out) as copies. Each page is
 * visited at most once per dump, so an item that stays in its chunk for the
 * whole dump (stored before it and never rewritten or evicted) is listed
 * exactly once; an item written during the dump appears at most once per
 * chunk it was linked in (as old, as new, both, or neither). A crawl does
 * the same walk on the crawler thread and reclaims expired and flushed
 * items. */
struct store_dump_item {
    char key[STORE_KEY_MAX];
    uint8_t nkey;
    bool key_binary;            /* stored base64-decoded (meta b) */
    bool fetched;
    uint8_t clsid;
    uint32_t flags;
    uint32_t nbytes;
    rel_time_t exptime;         /* 0 = never */
    rel_time_t atime;
    uint64_t cas;               /* 0 under -C */
};
struct store_dump;
/* A dump of the classes whose bit is set in `classes` (bit id; all ones: every
 * class). NULL when out of memory. */
struct store_dump *store_dump_open(uint64_t classes);
/* Up to `max` more live items into out[]; 0 once the dump is complete. Takes
 * each class lock for a bounded batch of chunks at a time. */
size_t store_dump_next(struct store_dump *d, struct store_dump_item *out, size_t max);
void store_dump_close(struct store_dump *d);

enum store_crawl_status { STORE_CRAWL_OK = 0, STORE_CRAWL_BUSY, STORE_CRAWL_DISABLED, STORE_CRAWL_FAILED };
/* Starts a crawl of `classes` on the crawler thread (started on first use),
 * which reclaims expired and flushed items: BUSY while one runs. */
enum store_crawl_status store_crawl_start(uint64_t classes);
/* `lru_crawler enable|disable`: FAILED when enabling an enabled crawler
 * (memcached's answer), OK otherwise. Disabled, crawls are refused. */
enum store_crawl_status store_crawl_enable(bool on);
bool store_crawl_enabled(void);
/* `lru_crawler sleep` (microseconds between batches) and `tocrawl` (items
 * checked per class and crawl at most, 0: all). */
void store_crawl_set_sleep(uint32_t usec);
void store_crawl_set_tocrawl(uint32_t n);
uint32_t store_crawl_sleep(void);
uint32_t store_crawl_tocrawl(void);
struct store_crawl_info {
    bool running;
    uint64_t starts;            /* crawls started (lru_crawler_starts) */
    uint64_t checked;           /* items looked at by crawls, every class */
    uint64_t class_checked[STORE_CLASSES_MAX];
};
void store_crawl_info(struct store_crawl_info *out);

/* ---- watch hooks (server/watch.c: memcached's log streams) ---- */

/* An item the store evicts (a live item dropped to make room). */
struct store_evict_info {
    const char *key;
    size_t nkey;
    bool fetched;               /* read since it was linked */
    rel_time_t exptime;         /* 0 = never */
    rel_time_t atime;           /* last access */
    rel_time_t now;
    unsigned clsid;
    uint32_t nbytes;            /* value bytes */
};
typedef void (*store_evict_fn)(const struct store_evict_info *ev);

/* Installs fn (NULL: none): called for every eviction, on the evicting
 * thread with the item's class and stripe locks held, so it must copy
 * what it needs and return at once. Costs one relaxed load per eviction
 * while none is installed. */
void store_set_evict_hook(store_evict_fn fn);

/* What the last store_link(), store_delete() or store_arith() of the
 * calling thread found under its key: the live item's class and value
 * size, or found = false. Recorded only while store_trace_lookups(true)
 * (one relaxed load per such call otherwise; store_get() records nothing:
 * its caller has the item). */
struct store_lookup {
    bool found;
    unsigned clsid;
    uint32_t nbytes;
};
void store_trace_lookups(bool on);
void store_last_lookup(struct store_lookup *out);

#pragma GCC visibility pop

#endif /* MCD_STORE_H */
