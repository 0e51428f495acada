/*
 * evict-sim.c - replays bench-vs.sh's "evict -m 64" zipf phase against a
 * model cache, to tell what a replacement policy could still win there.
 *
 * Owns: the model only. The cache holds C items (the resident count a
 * server reached); as after bench-vs's load and scan, it starts with the
 * last C keys of 0..K-1, each hit once. Then N cache-aside requests: a
 * zipf(theta) key (the generator and rank scatter of mcload.c), a hit,
 * or a miss that stores the key. Hit ratio is counted over requests
 * W..N-1 (bench-vs leaves its 0.3 s warmup out). Policies:
 *   clock      mcd's: one hand, a hit sets a bit, the hand clears it and
 *              passes (second chance), evicts the first item without it
 *   gclock:M   the bit made a counter up to M (a frequency-aware CLOCK):
 *              a hit adds one, the hand takes one away
 *   fifo       no hit bit at all: the hand evicts what it meets
 *   s3fifo     S3-FIFO (SOSP '23): a new key enters a small FIFO (10% of
 *              the items) unless it is in the ghost list (keys evicted
 *              from the small FIFO, as many as the main FIFO holds), when
 *              it enters the main FIFO; leaving the small FIFO, an item hit
 *              there moves to main, any other is evicted into the ghost
 *              list; main reinserts an item with hits, taking one away
 *              (a counter up to 3). The loaded items start in the small
 *              FIFO, as a load with no hits leaves them.
 *   infinite   nothing is ever evicted: only first requests of keys that
 *              were not resident miss. No policy can do better.
 * One request stream (mcload spreads its connections' streams over
 * threads; the figures agree with a server's to the third digit).
 *
 * usage: evict-sim POLICY RESIDENT REQUESTS [WARM_REQUESTS [KEYS [THETA]]]
 * build: cc -O2 -o evict-sim bench/evict-sim.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
mix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Gray et al.'s zipfian ranks, scattered over the keys by a multiplier
 * coprime with the key count, as mcload does. */
static struct {
    double zetan, eta, alpha, half;
    uint64_t n, mult;
} zg;

static void
zipf_setup(uint64_t n, double theta)
{
    double z = 0;
    for (uint64_t i = 1; i <= n; i++)
        z += 1.0 / pow((double)i, theta);
    zg.n = n;
    zg.zetan = z;
    zg.alpha = 1.0 / (1.0 - theta);
    zg.half = pow(0.5, theta);
    zg.eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - (1.0 + zg.half) / z);
    zg.mult = 2654435761ull % n ? 2654435761ull % n : 1;
    for (;;) {
        uint64_t a = zg.mult, b = n;
        while (b) {
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            break;
        zg.mult++;
    }
}

static uint64_t
zipf_key(uint64_t *s)
{
    double u = (double)(mix64(s) >> 11) * (1.0 / 9007199254740992.0);
    double uz = u * zg.zetan;
    uint64_t rank;
    if (uz < 1.0)
        rank = 0;
    else if (uz < 1.0 + zg.half)
        rank = 1;
    else
        rank = (uint64_t)((double)zg.n * pow(zg.eta * u - zg.eta + 1.0, zg.alpha));
    if (rank >= zg.n)
        rank = zg.n - 1;
    return rank * zg.mult % zg.n;
}

/* ---- S3-FIFO: three rings of keys; where[k]: 0 absent, 1 small, 2 main;
 * ghost[k] is the ghost ring's stamp of k (0: not a ghost). ---- */
struct ring {
    uint32_t *k;
    uint64_t head, len, cap;
};

static void
ring_push(struct ring *r, uint32_t k)
{
    r->k[(r->head + r->len++) % r->cap] = k;
}

static uint32_t
ring_pop(struct ring *r)
{
    uint32_t k = r->k[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return k;
}

static double
s3fifo(uint64_t cap, uint64_t n, uint64_t warm, uint64_t keys)
{
    uint8_t *where = calloc(keys, 1), *freq = calloc(keys, 1);
    uint64_t *ghost = calloc(keys, sizeof(*ghost)), gstamp = 0, gtail;
    uint64_t small_cap = cap / 10 ? cap / 10 : 1;
    struct ring sm = {malloc(cap * 4), 0, 0, cap}, mn = {malloc(cap * 4), 0, 0, cap};
    if (!where || !freq || !ghost || !sm.k || !mn.k)
        exit(1);
    for (uint64_t i = 0; i < cap; i++) {
        ring_push(&sm, (uint32_t)(keys - cap + i));
        where[keys - cap + i] = 1;
        freq[keys - cap + i] = 1; /* the scan */
    }
    uint64_t seed = 42, hits = 0, gets = 0;
    for (uint64_t r = 0; r < n; r++) {
        uint64_t k = zipf_key(&seed);
        if (r >= warm) {
            gets++;
            hits += where[k] != 0;
        }
        if (where[k]) {
            if (freq[k] < 3)
                freq[k]++;
            continue;
        }
        while (sm.len + mn.len >= cap) {
            if (sm.len >= small_cap || mn.len == 0) {
                uint32_t v = ring_pop(&sm);
                if (freq[v] > 0) {
                    freq[v] = 0;
                    where[v] = 2;
                    ring_push(&mn, v);
                } else {
                    where[v] = 0;
                    ghost[v] = ++gstamp; /* a ghost while gstamp - ghost[v] < mn.cap */
                }
            } else {
                uint32_t v = ring_pop(&mn);
                if (freq[v] > 0) {
                    freq[v]--;
                    ring_push(&mn, v);
                } else {
                    where[v] = 0;
                }
            }
        }
        gtail = gstamp > cap - small_cap ? gstamp - (cap - small_cap) : 0;
        freq[k] = 0;
        if (ghost[k] > gtail) {
            where[k] = 2;
            ring_push(&mn, (uint32_t)k);
        } else {
            where[k] = 1;
            ring_push(&sm, (uint32_t)k);
        }
        ghost[k] = 0;
    }
    return gets ? (double)hits / (double)gets : 0.0;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: evict-sim clock|gclock:M|fifo|s3fifo|infinite RESIDENT REQUESTS "
                        "[WARM_REQUESTS [KEYS [THETA]]]\n");
        return 2;
    }
    unsigned maxc = 1;
    int infinite = 0, s3 = 0;
    if (strcmp(argv[1], "fifo") == 0)
        maxc = 0;
    else if (strcmp(argv[1], "infinite") == 0)
        infinite = 1;
    else if (strcmp(argv[1], "s3fifo") == 0)
        s3 = 1;
    else if (strncmp(argv[1], "gclock:", 7) == 0)
        maxc = (unsigned)atoi(argv[1] + 7);
    else if (strcmp(argv[1], "clock") != 0) {
        fprintf(stderr, "evict-sim: unknown policy %s\n", argv[1]);
        return 2;
    }
    uint64_t cap = strtoull(argv[2], NULL, 10), n = strtoull(argv[3], NULL, 10);
    uint64_t warm = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    uint64_t keys = argc > 5 ? strtoull(argv[5], NULL, 10) : 1000000;
    double theta = argc > 6 ? atof(argv[6]) : 0.99;
    if (cap == 0 || cap > keys || keys > UINT32_MAX) {
        fprintf(stderr, "evict-sim: need 0 < RESIDENT <= KEYS < 2^32\n");
        return 2;
    }
    zipf_setup(keys, theta);
    if (s3) {
        printf("policy=%s resident=%llu requests=%llu warm=%llu hit_ratio=%.5f\n", argv[1],
               (unsigned long long)cap, (unsigned long long)n, (unsigned long long)warm,
               s3fifo(cap, n, warm, keys));
        return 0;
    }
    int64_t *slot_of = malloc(keys * sizeof(*slot_of)); /* -1: not resident */
    uint32_t *key_at = malloc(cap * sizeof(*key_at));
    uint8_t *bits = malloc(cap);
    if (!slot_of || !key_at || !bits)
        return 1;
    for (uint64_t k = 0; k < keys; k++)
        slot_of[k] = -1;
    for (uint64_t i = 0; i < cap; i++) { /* load then scan: the last keys, hit once */
        key_at[i] = (uint32_t)(keys - cap + i);
        slot_of[keys - cap + i] = (int64_t)i;
        bits[i] = maxc ? 1 : 0;
    }
    uint64_t hand = 0, seed = 42, hits = 0, gets = 0;
    for (uint64_t r = 0; r < n; r++) {
        uint64_t k = zipf_key(&seed);
        int64_t s = slot_of[k];
        if (r >= warm) {
            gets++;
            hits += s >= 0;
        }
        if (s >= 0) {
            if (bits[s] < maxc)
                bits[s]++;
            continue;
        }
        if (infinite) {
            slot_of[k] = 0;
            continue;
        }
        for (;;) { /* the hand */
            uint64_t h = hand;
            hand = hand + 1 < cap ? hand + 1 : 0;
            if (bits[h] > 0) {
                bits[h]--;
                continue;
            }
            slot_of[key_at[h]] = -1;
            key_at[h] = (uint32_t)k;
            slot_of[k] = (int64_t)h;
            break;
        }
    }
    printf("policy=%s resident=%llu requests=%llu warm=%llu hit_ratio=%.5f\n", argv[1],
           (unsigned long long)cap, (unsigned long long)n, (unsigned long long)warm,
           gets ? (double)hits / (double)gets : 0.0);
    return 0;
}
