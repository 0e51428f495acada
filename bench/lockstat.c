/*
 * lockstat.c - an LD_PRELOAD shim that counts, per mutex, how often a
 * process takes it and how often it had to wait for it. bench/lock-profile.sh
 * runs memcached and mcd under it to show which locks a request takes.
 *
 * pthread_mutex_lock and pthread_mutex_trylock are interposed. A lock call
 * first tries the real trylock: if that fails the acquisition counts as
 * contended, and then blocks in the real lock. Counts live in a fixed open
 * addressing table keyed by the mutex address, with lock-free inserts. At
 * exit the table is written as "address taken waited busy" lines (busy:
 * trylocks that failed) to
 * the file named by $LOCKSTAT_OUT (nothing is written without it). Mutexes
 * beyond the table's size are counted in one overflow slot.
 *
 * Build: cc -O2 -shared -fPIC -o lockstat.so bench/lockstat.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 65536 /* a power of two */

struct slot {
    _Atomic uintptr_t key;
    _Atomic uint64_t taken, waited, busy;   /* busy: trylocks that failed */
};

static struct slot table[SLOTS + 1]; /* the last one is the overflow slot */
static int (*real_lock)(pthread_mutex_t *);
static int (*real_trylock)(pthread_mutex_t *);

static void
resolve(void)
{
    if (real_lock == NULL) {
        real_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
        real_trylock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_trylock");
    }
}

static struct slot *
slot_of(const void *m)
{
    uintptr_t key = (uintptr_t)m;
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    for (unsigned probe = 0; probe < 64; probe++) {
        struct slot *s = &table[((h >> 40) + probe) & (SLOTS - 1)];
        uintptr_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
        if (cur == key)
            return s;
        if (cur == 0) {
            uintptr_t expect = 0;
            if (atomic_compare_exchange_strong(&s->key, &expect, key) || expect == key)
                return s;
        }
    }
    return &table[SLOTS];
}

int
pthread_mutex_lock(pthread_mutex_t *m)
{
    resolve();
    struct slot *s = slot_of(m);
    atomic_fetch_add_explicit(&s->taken, 1, memory_order_relaxed);
    if (real_trylock(m) == 0)
        return 0;
    atomic_fetch_add_explicit(&s->waited, 1, memory_order_relaxed);
    return real_lock(m);
}

int
pthread_mutex_trylock(pthread_mutex_t *m)
{
    resolve();
    int rc = real_trylock(m);
    struct slot *s = slot_of(m);
    atomic_fetch_add_explicit(rc == 0 ? &s->taken : &s->busy, 1, memory_order_relaxed);
    return rc;
}

__attribute__((destructor)) static void
dump(void)
{
    const char *path = getenv("LOCKSTAT_OUT");
    if (path == NULL)
        return;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    for (unsigned i = 0; i <= SLOTS; i++) {
        uint64_t taken = atomic_load(&table[i].taken), busy = atomic_load(&table[i].busy);
        if (taken > 0 || busy > 0)
            fprintf(f, "%#lx %llu %llu %llu\n", (unsigned long)atomic_load(&table[i].key),
                    (unsigned long long)taken, (unsigned long long)atomic_load(&table[i].waited),
                    (unsigned long long)busy);
    }
    fclose(f);
}
