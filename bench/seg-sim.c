/*
 * seg-sim.c - the segment store prototype (store/seg/) against the slab
 * store (store/store.h), in process, on the same keys (issue 22,
 * doc/performance.md section 7). One test of one store per run, printed
 * as key=value on one line; bench/seg-sim.sh builds it and makes the table.
 *
 *   seg-sim STORE TEST [options]
 *     STORE: slab | fifo | merge (the segment store's prototype API, with
 *            its eviction) | engine (the segment engine behind store.h's
 *            API, store/seg/seg_engine.h: merge eviction, store.h's calls;
 *            built with -DSEG_SIM_ENGINE only)
 *     TEST:  load      -n items of 16-byte keys and 100-byte values into a
 *                      store big enough for all: bytes per item
 *            resident  -n distinct items into -m MB: items resident after
 *            zipf      -r cache-aside requests (get; set on a miss) over -n
 *                      keys, zipf(0.99), -m MB: hit ratio after -w warm-up
 *            get       -g gets (hits) over -k loaded items, in get_loop_*()
 *                      (count its instructions with callgrind --toggle-collect)
 *            set       -g overwrites of -k loaded items, in set_loop_*()
 *   options: -n N -m MB -r N -w N -g N -k N -p HASHPOWER (log2 of the index's buckets:
 *            the slab store's of 1 handle, the segment store's of 7 slots) -s SEED
 *            -M N (merge: segments merged into one; 0: 4)
 */
#include "config.h"

#include "store/seg/seg_store.h"
#include "store/store.h"
#ifdef SEG_SIM_ENGINE
#include "store/seg/seg_engine.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NKEY 16
#define NVAL 100

enum kind { SLAB, FIFO, MERGE, ENGINE };

#ifndef SEG_SIM_ENGINE /* the packed build: no engine */
#define seg_engine_setup(o) (-1)
#define seg_engine_alloc store_alloc
#define seg_engine_link store_link
#define seg_engine_get store_get
#define seg_engine_item_data item_data
#define seg_engine_item_release item_release
#define seg_engine_info store_info
#endif

static enum kind kind;
static unsigned merge_n; /* -M: segments merged into one (0: the store's default, 4) */
static struct store_tstats ts;
static char value[NVAL];

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
key_of(uint64_t id, char *k)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "k%015llu", (unsigned long long)id);
    memcpy(k, buf, NKEY);
}

static long
rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * sysconf(_SC_PAGESIZE);
}

static void
setup(size_t mem, unsigned power)
{
    if (kind == ENGINE) {
        /* the engine sizes its index from mem_limit, at least 2^(hashpower - 2) */
        struct store_options o = {
            .mem_limit = mem, .item_size_max = 1u << 20, .use_cas = true, .evict_to_free = true,
            .hashpower = power + 2,
        };
        if (seg_engine_setup(&o) != 0) {
            perror("seg_engine_setup");
            exit(1);
        }
        store_clock_set(100);
    } else if (kind == SLAB) {
        struct store_options o = {
            .mem_limit = mem, .item_size_max = 1u << 20, .factor = 1.25, .chunk_size = 48,
            .use_cas = true, .evict_to_free = true, .hashpower = power,
        };
        if (store_setup(&o) != 0) {
            perror("store_setup");
            exit(1);
        }
        store_clock_set(100);
    } else {
        struct seg_options o = {
            .mem_limit = mem, .hashpower = power, .evict = kind == FIFO ? SEG_EVICT_FIFO : SEG_EVICT_MERGE, .merge_n = merge_n,
        };
        if (seg_setup(&o) != 0) {
            perror("seg_setup");
            exit(1);
        }
        seg_clock_set(100);
    }
}

static bool
set(const char *k)
{
    if (kind == ENGINE) {
        enum store_status st;
        struct item *it = seg_engine_alloc(k, NKEY, 0, 0, NVAL, &ts, &st);
        if (it == NULL)
            return false;
        memcpy(seg_engine_item_data(it), value, NVAL);
        st = seg_engine_link(it, NULL, NULL, &ts);
        seg_engine_item_release(it);
        return st == STORE_OK;
    }
    if (kind != SLAB)
        return seg_set(k, NKEY, 0, 0, value, NVAL, 0, NULL) == SEG_OK;
    enum store_status st;
    struct item *it = store_alloc(k, NKEY, 0, 0, NVAL, &ts, &st);
    if (it == NULL)
        return false;
    memcpy(item_data(it), value, NVAL);
    st = store_link(it, NULL, NULL, &ts);
    item_release(it);
    return st == STORE_OK;
}

static bool
get(const char *k)
{
    if (kind == ENGINE) {
        struct item *it = seg_engine_get(k, NKEY, NULL, NULL, &ts);
        if (it != NULL)
            seg_engine_item_release(it);
        return it != NULL;
    }
    if (kind != SLAB) {
        const struct seg_item *it = seg_get(k, NKEY);
        if (it != NULL)
            seg_item_release(it);
        return it != NULL;
    }
    struct item *it = store_get(k, NKEY, NULL, NULL, &ts);
    if (it != NULL)
        item_release(it);
    return it != NULL;
}

/* items, item-memory bytes taken, index bytes */
static void
usage_of(uint64_t *items, uint64_t *mem, uint64_t *index)
{
    if (kind == ENGINE) {
        struct store_info si;
        seg_engine_info(&si);
        *items = si.curr_items;
        *mem = si.total_malloced;
        *index = si.hash_bytes;
    } else if (kind == SLAB) {
        struct store_info si;
        store_info(&si);
        *items = si.curr_items;
        *mem = si.total_malloced;
        *index = si.hash_bytes;
    } else {
        struct seg_stats s;
        seg_stats(&s);
        *items = s.items;
        *mem = s.seg_bytes;
        *index = s.index_bytes;
    }
}

static void
report_usage(void)
{
    uint64_t items, mem, index;
    usage_of(&items, &mem, &index);
    printf(" items=%llu mem=%llu index=%llu bytes_per_item=%.1f", (unsigned long long)items,
           (unsigned long long)mem, (unsigned long long)index, items ? (double)(mem + index) / (double)items : 0.0);
}

/* YCSB's zipfian generator (Gray et al.), ranks 0..n-1, rank 0 the hottest. */
struct zipf {
    uint64_t n;
    double theta, alpha, zetan, eta, half_pow;
};

static void
zipf_init(struct zipf *z, uint64_t n, double theta)
{
    double zeta2 = 1.0 + pow(0.5, theta), zetan = 0;
    for (uint64_t i = 1; i <= n; i++)
        zetan += 1.0 / pow((double)i, theta);
    z->n = n;
    z->theta = theta;
    z->zetan = zetan;
    z->alpha = 1.0 / (1.0 - theta);
    z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zetan);
    z->half_pow = pow(0.5, theta);
}

static uint64_t
zipf_next(const struct zipf *z, uint64_t *rng)
{
    double u = (double)(splitmix(rng) >> 11) / (double)(1ull << 53);
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < 1.0 + z->half_pow)
        return 1;
    uint64_t r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    return r < z->n ? r : z->n - 1;
}

__attribute__((noinline)) static uint64_t
get_loop_slab(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct item *it = store_get(keys + (size_t)order[i] * NKEY, NKEY, NULL, NULL, &ts);
        sum += (unsigned char)item_data(it)[0];
        item_release(it);
    }
    return sum;
}

__attribute__((noinline)) static uint64_t
get_loop_seg(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct seg_item *it = seg_get(keys + (size_t)order[i] * NKEY, NKEY);
        sum += (unsigned char)seg_item_data(it)[0];
        seg_item_release(it);
    }
    return sum;
}

__attribute__((noinline)) static uint64_t
get_loop_engine(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct item *it = seg_engine_get(keys + (size_t)order[i] * NKEY, NKEY, NULL, NULL, &ts);
        sum += (unsigned char)seg_engine_item_data(it)[0];
        seg_engine_item_release(it);
    }
    return sum;
}

__attribute__((noinline)) static uint64_t
set_loop_engine(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++) {
        enum store_status st;
        struct item *it = seg_engine_alloc(keys + (size_t)order[i] * NKEY, NKEY, 0, 0, NVAL, &ts, &st);
        memcpy(seg_engine_item_data(it), value, NVAL);
        ok += seg_engine_link(it, NULL, NULL, &ts) == STORE_OK;
        seg_engine_item_release(it);
    }
    return ok;
}

/* overwrites: the item is built and linked (slab: alloc, fill, link) */
__attribute__((noinline)) static uint64_t
set_loop_slab(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++) {
        enum store_status st;
        struct item *it = store_alloc(keys + (size_t)order[i] * NKEY, NKEY, 0, 0, NVAL, &ts, &st);
        memcpy(item_data(it), value, NVAL);
        ok += store_link(it, NULL, NULL, &ts) == STORE_OK;
        item_release(it);
    }
    return ok;
}

__attribute__((noinline)) static uint64_t
set_loop_seg(const char *keys, uint64_t n, const uint32_t *order)
{
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++)
        ok += seg_set(keys + (size_t)order[i] * NKEY, NKEY, 0, 0, value, NVAL, 0, NULL) == SEG_OK;
    return ok;
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: seg-sim slab|fifo|merge load|resident|zipf|get [options]\n");
        return 2;
    }
    kind = strcmp(argv[1], "slab") == 0     ? SLAB
           : strcmp(argv[1], "fifo") == 0   ? FIFO
           : strcmp(argv[1], "engine") == 0 ? ENGINE
                                            : MERGE;
    const char *test = argv[2];
    uint64_t n = 1000000, requests = 20000000, warm = 5000000, gets = 1000000, loaded = 100000, seed = 1;
    size_t mem_mb = 64;
    unsigned power = 17;
    int c;
    optind = 3;
    while ((c = getopt(argc, argv, "n:m:r:w:g:k:p:s:M:")) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'm': mem_mb = strtoull(optarg, NULL, 10); break;
        case 'r': requests = strtoull(optarg, NULL, 10); break;
        case 'w': warm = strtoull(optarg, NULL, 10); break;
        case 'g': gets = strtoull(optarg, NULL, 10); break;
        case 'k': loaded = strtoull(optarg, NULL, 10); break;
        case 'p': power = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'M': merge_n = (unsigned)strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    memset(value, 'v', sizeof(value));
    char k[NKEY];
    printf("store=%s test=%s", argv[1], test);

    if (strcmp(test, "load") == 0) {
        long rss0 = rss_bytes();
        /* the engine sizes its index by its memory: give it what the items take */
        setup(kind == ENGINE ? (size_t)(n * 128 * 9 / 8) : (size_t)2 << 30, power);
        for (uint64_t i = 0; i < n; i++) {
            key_of(i, k);
            if (!set(k)) {
                fprintf(stderr, "set %llu failed\n", (unsigned long long)i);
                return 1;
            }
        }
        report_usage();
        uint64_t items, mem, index;
        usage_of(&items, &mem, &index);
        printf(" rss_per_item=%.1f\n", (double)(rss_bytes() - rss0) / (double)items);
    } else if (strcmp(test, "resident") == 0) {
        setup(mem_mb << 20, power);
        for (uint64_t i = 0; i < n; i++) {
            key_of(i, k);
            (void)set(k);
        }
        report_usage();
        printf("\n");
    } else if (strcmp(test, "zipf") == 0) {
        setup(mem_mb << 20, power);
        struct zipf z;
        zipf_init(&z, n, 0.99);
        uint64_t rng = seed, hits = 0, counted = 0;
        for (uint64_t i = 0; i < requests; i++) {
            uint64_t id = zipf_next(&z, &rng) * 2654435761ull % n; /* spread the hot ranks over the key space */
            key_of(id, k);
            bool hit = get(k);
            if (!hit)
                (void)set(k);
            if (i >= warm) {
                counted++;
                hits += hit;
            }
        }
        report_usage();
        printf(" requests=%llu hit_ratio=%.4f\n", (unsigned long long)counted, (double)hits / (double)counted);
    } else if (strcmp(test, "get") == 0 || strcmp(test, "set") == 0) {
        bool sets = strcmp(test, "set") == 0;
        /* room for every overwrite's dead copy in the segment store: no eviction in the loop */
        setup(((size_t)256 << 20) + (sets ? gets * 128 : 0), power);
        char *keys = malloc(loaded * NKEY);
        uint32_t *order = malloc(gets * sizeof(*order));
        if (keys == NULL || order == NULL)
            return 1;
        for (uint64_t i = 0; i < loaded; i++) {
            key_of(i, keys + i * NKEY);
            if (!set(keys + i * NKEY))
                return 1;
        }
        uint64_t rng = seed;
        for (uint64_t i = 0; i < gets; i++)
            order[i] = (uint32_t)(splitmix(&rng) % loaded);
        double t0 = now_s();
        uint64_t sum = sets ? (kind == SLAB     ? set_loop_slab(keys, gets, order)
                               : kind == ENGINE ? set_loop_engine(keys, gets, order)
                                                : set_loop_seg(keys, gets, order))
                            : (kind == SLAB     ? get_loop_slab(keys, gets, order)
                               : kind == ENGINE ? get_loop_engine(keys, gets, order)
                                                : get_loop_seg(keys, gets, order));
        double t1 = now_s();
        printf(" %s=%llu ns_per_op=%.1f check=%llu\n", sets ? "sets" : "gets", (unsigned long long)gets,
               (t1 - t0) * 1e9 / (double)gets, (unsigned long long)(sum % 1000));
    } else {
        fprintf(stderr, "unknown test %s\n", test);
        return 2;
    }
    return 0;
}
