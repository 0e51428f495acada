/*
 * hotkeys.c - sampled space-saving summaries of the keys gets ask for,
 * one per thread, merged on read (see hotkeys.h).
 *
 * Space-saving (Metwally, Agrawal, El Abbadi 2005) keeps K counters: a
 * sampled key that has one adds its weight to it; one that has none takes
 * the counter of the smallest count and adds its weight on top, so a count
 * can overestimate (by at most the smallest count when the key came in)
 * but any key with more than 1/K of the weight is always held. Here K is
 * HOTKEYS_PER_THREAD; a key's counter is found through a small chained
 * hash index (head[] and each entry's next), and the smallest one at the
 * root of a binary min-heap (heap[], each entry's pos): a sample costs a
 * hash, a short chain walk and at most log2(K) = 7 sift steps. Halving
 * every count keeps the heap ordered.
 *
 * Locks: each summary's `lock` guards everything in it but `rng` and
 * `interval` (its thread's alone). The owner takes it once per sample,
 * readers (`stats hotkeys`, `stats reset`, the Prometheus page) one summary
 * at a time; registry_lock guards the list of summaries and is taken when
 * a thread makes its summary and by readers, never two summary locks at
 * once, and never inside a summary lock.
 */
#include "config.h"

#include "server/hotkeys.h"

#include "proto/meta.h"
#include "proto/token.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HK_HEADS 256 /* hash index chains, a power of two */

struct hk_entry {
    uint64_t count;
    uint32_t hash;
    int16_t next;                  /* the next entry of its chain, or -1 */
    int16_t pos;                   /* its place in heap[] */
    uint8_t nkey;
    bool binary;
    char key[PROTO_KEY_MAX];
};

struct hk_thread {
    pthread_mutex_t lock;
    struct hk_thread *next;        /* registry_lock */
    /* the owner thread's alone */
    uint32_t rng;
    uint32_t interval;             /* gets the next sample stands for */
    /* under lock */
    rel_time_t epoch;              /* when counts were last halved */
    unsigned used;
    int16_t head[HK_HEADS];
    int16_t heap[HOTKEYS_PER_THREAD]; /* entries, a min-heap by count */
    struct hk_entry e[HOTKEYS_PER_THREAD];
};

_Thread_local uint32_t hotkeys_countdown = 1;

static _Thread_local struct hk_thread *self;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hk_thread *registry;
static bool enabled = true;

void hotkeys_set_enabled(bool on)
{
    enabled = on;
}

static void clear_locked(struct hk_thread *t)
{
    t->used = 0;
    t->epoch = store_clock_now();
    for (unsigned i = 0; i < HK_HEADS; i++)
        t->head[i] = -1;
}

static struct hk_thread *enrol(void)
{
    static _Atomic uint32_t seeds = 0x9e3779b9u;
    struct hk_thread *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    clear_locked(t);
    t->rng = atomic_fetch_add(&seeds, 0x6d2b79f5u) | 1u;
    t->interval = 1;
    pthread_mutex_lock(&registry_lock);
    t->next = registry;
    registry = t;
    pthread_mutex_unlock(&registry_lock);
    return t;
}

/* The next gap between samples: uniform in 1 .. 2*MEAN-1 (mean MEAN). */
static uint32_t next_interval(struct hk_thread *t)
{
    uint32_t x = t->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    t->rng = x;
    return 1 + x % (2 * HOTKEYS_SAMPLE_MEAN - 1);
}

static uint32_t key_hash(const char *key, size_t nkey, bool binary)
{
    uint32_t h = binary ? 0x811c9dc5u ^ 0xffu : 0x811c9dc5u;
    for (size_t i = 0; i < nkey; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

/* Halves every count once per HOTKEYS_HALF_LIFE seconds gone by. */
static void decay_locked(struct hk_thread *t, rel_time_t now)
{
    if (now <= t->epoch || now - t->epoch < HOTKEYS_HALF_LIFE)
        return;
    unsigned periods = (now - t->epoch) / HOTKEYS_HALF_LIFE;
    t->epoch += periods * HOTKEYS_HALF_LIFE;
    unsigned shift = periods < 63 ? periods : 63;
    for (unsigned i = 0; i < t->used; i++)
        t->e[i].count >>= shift;
}

static int find_locked(const struct hk_thread *t, uint32_t h, const char *key, size_t nkey, bool binary)
{
    for (int i = t->head[h & (HK_HEADS - 1)]; i >= 0; i = t->e[i].next) {
        const struct hk_entry *x = &t->e[i];
        if (x->hash == h && x->nkey == nkey && x->binary == binary && memcmp(x->key, key, nkey) == 0)
            return i;
    }
    return -1;
}

/* The heap: heap[0..used) holds entry indexes, each count no larger than
 * its children's (heap[2k+1], heap[2k+2]); e[i].pos is i's place in it. */
static void heap_set(struct hk_thread *t, unsigned k, int i)
{
    t->heap[k] = (int16_t)i;
    t->e[i].pos = (int16_t)k;
}

static void sift_up_locked(struct hk_thread *t, unsigned k)
{
    int i = t->heap[k];
    uint64_t c = t->e[i].count;
    while (k > 0) {
        unsigned up = (k - 1) / 2;
        if (t->e[t->heap[up]].count <= c)
            break;
        heap_set(t, k, t->heap[up]);
        k = up;
    }
    heap_set(t, k, i);
}

static void sift_down_locked(struct hk_thread *t, unsigned k)
{
    int i = t->heap[k];
    uint64_t c = t->e[i].count;
    for (;;) {
        unsigned l = 2 * k + 1;
        if (l >= t->used)
            break;
        unsigned m = l;
        if (l + 1 < t->used && t->e[t->heap[l + 1]].count < t->e[t->heap[l]].count)
            m = l + 1;
        if (t->e[t->heap[m]].count >= c)
            break;
        heap_set(t, k, t->heap[m]);
        k = m;
    }
    heap_set(t, k, i);
}

static void unchain_locked(struct hk_thread *t, int i)
{
    int16_t *p = &t->head[t->e[i].hash & (HK_HEADS - 1)];
    while (*p != i)
        p = &t->e[*p].next;
    *p = t->e[i].next;
}

static void add_locked(struct hk_thread *t, const char *key, size_t nkey, bool binary, uint32_t w)
{
    uint32_t h = key_hash(key, nkey, binary);
    int i = find_locked(t, h, key, nkey, binary);
    if (i >= 0) {
        t->e[i].count += w;
        sift_down_locked(t, (unsigned)t->e[i].pos);
        return;
    }
    uint64_t base = 0;
    bool fresh = t->used < HOTKEYS_PER_THREAD;
    if (fresh) {
        i = (int)t->used++;
        heap_set(t, t->used - 1, i);
    } else {
        i = t->heap[0]; /* the smallest count gives its counter up */
        base = t->e[i].count;
        unchain_locked(t, i);
    }
    struct hk_entry *x = &t->e[i];
    x->count = base + w;
    x->hash = h;
    x->nkey = (uint8_t)nkey;
    x->binary = binary;
    memcpy(x->key, key, nkey);
    int16_t *head = &t->head[h & (HK_HEADS - 1)];
    x->next = *head;
    *head = (int16_t)i;
    if (fresh)
        sift_up_locked(t, (unsigned)x->pos);
    else
        sift_down_locked(t, 0);
}

void hotkeys_add(const char *key, size_t nkey, bool binary)
{
    struct hk_thread *t = self;
    if (t == NULL) {
        if (!enabled || (t = self = enrol()) == NULL) {
            hotkeys_countdown = UINT32_MAX; /* off: come back in 4 billion gets */
            return;
        }
    }
    uint32_t w = t->interval;
    t->interval = next_interval(t);
    hotkeys_countdown = t->interval;
    if (nkey == 0 || nkey > PROTO_KEY_MAX)
        return;
    rel_time_t now = store_clock_now();
    pthread_mutex_lock(&t->lock);
    decay_locked(t, now);
    add_locked(t, key, nkey, binary, w);
    pthread_mutex_unlock(&t->lock);
}

void hotkeys_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct hk_thread *t = registry; t != NULL; t = t->next) {
        pthread_mutex_lock(&t->lock);
        clear_locked(t);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static int by_key(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;
    if (x->binary != y->binary)
        return x->binary ? 1 : -1;
    if (x->nkey != y->nkey)
        return x->nkey < y->nkey ? -1 : 1;
    return memcmp(x->key, y->key, x->nkey);
}

static int by_count(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return by_key(a, b);
}

size_t hotkeys_top(struct hotkey *out, size_t n)
{
    if (n == 0)
        return 0;
    rel_time_t now = store_clock_now();
    size_t cap = 0, got = 0;
    struct hotkey *all = NULL;

    pthread_mutex_lock(&registry_lock);
    for (struct hk_thread *t = registry; t != NULL; t = t->next)
        cap += HOTKEYS_PER_THREAD;
    if (cap > 0)
        all = malloc(cap * sizeof(*all));
    for (struct hk_thread *t = registry; t != NULL && all != NULL; t = t->next) {
        pthread_mutex_lock(&t->lock);
        decay_locked(t, now);
        for (unsigned i = 0; i < t->used && got < cap; i++) {
            const struct hk_entry *x = &t->e[i];
            if (x->count == 0)
                continue;
            struct hotkey *k = &all[got++];
            memcpy(k->key, x->key, x->nkey);
            k->key[x->nkey] = '\0';
            k->nkey = x->nkey;
            k->binary = x->binary;
            k->count = x->count;
        }
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&registry_lock);
    if (all == NULL)
        return 0;

    /* the same key in several threads' summaries: one entry, counts added */
    qsort(all, got, sizeof(*all), by_key);
    size_t m = 0;
    for (size_t i = 0; i < got; i++) {
        if (m > 0 && by_key(&all[m - 1], &all[i]) == 0)
            all[m - 1].count += all[i].count;
        else
            all[m++] = all[i];
    }
    qsort(all, m, sizeof(*all), by_count);
    if (n > m)
        n = m;
    memcpy(out, all, n * sizeof(*out));
    free(all);
    return n;
}

/* A key a STAT line can carry as it is: no space, control byte or DEL. */
static bool printable(const struct hotkey *k)
{
    for (size_t i = 0; i < k->nkey; i++) {
        unsigned char c = (unsigned char)k->key[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

enum stats_group_status hotkeys_stats(const char *args, size_t len, stats_emit_fn emit, void *ctx)
{
    size_t pos = 0, ntok, n = HOTKEYS_DEFAULT;
    const char *tok;

    token_next(args, len, &pos, &tok, &ntok); /* "hotkeys" */
    if (token_next(args, len, &pos, &tok, &ntok)) {
        n = 0;
        for (size_t i = 0; i < ntok; i++) {
            if (tok[i] < '0' || tok[i] > '9' || n > HOTKEYS_MAX)
                return STATS_GROUP_BAD_ARGS;
            n = n * 10 + (size_t)(tok[i] - '0');
        }
        if (n == 0 || n > HOTKEYS_MAX || token_next(args, len, &pos, &tok, &ntok))
            return STATS_GROUP_BAD_ARGS;
    }
    struct hotkey *top = malloc(n * sizeof(*top));
    if (top == NULL)
        return STATS_GROUP_OK;
    size_t got = hotkeys_top(top, n);
    for (size_t i = 0; i < got; i++) {
        char val[4 * ((PROTO_KEY_MAX + 2) / 3) + TOKEN_U64_DIGITS + 8];
        size_t at;
        if (top[i].binary || !printable(&top[i])) {
            at = meta_base64_encode(top[i].key, top[i].nkey, val, sizeof(val));
        } else {
            memcpy(val, top[i].key, top[i].nkey);
            at = top[i].nkey;
        }
        val[at++] = ' ';
        at += token_fmt_u64(val + at, top[i].count);
        if (top[i].binary || !printable(&top[i])) {
            memcpy(val + at, " b", 2);
            at += 2;
        }
        val[at] = '\0';
        emit(ctx, "hotkey", val);
    }
    free(top);
    return STATS_GROUP_OK;
}
