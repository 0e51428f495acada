/*
 * contention.c - what two threads pay for the store's shared words: a
 * stripe lock/unlock pair on neighbouring stripes (one cache line or two)
 * and a CAS draw (one counter for all, or a range per thread). Linked
 * against a build's store/libmcdstore.a; bench/contention.sh runs it
 * against two builds, A B B A, and prints the ratios.
 *
 *   contention [ITERATIONS]    prints "stripe_ns=X cas_ns=Y"
 *
 * Each figure is thread CPU time per operation (both threads' sum over
 * both threads' operations): a cache line bouncing between cores shows as
 * stalled cycles, and wall time on a shared machine is mostly waiting.
 */
#include "config.h" /* _GNU_SOURCE: pthread_setaffinity_np */

#include "store/hashtable.h"
#include "store/item.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iters = 20000000;
static pthread_barrier_t go;

static _Atomic double cpu_total;

static double
thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
account(double t0)
{
    double d = thread_cpu_s() - t0, cur = cpu_total;
    while (!atomic_compare_exchange_weak(&cpu_total, &cur, cur + d))
        ;
}

static void *
stripe_worker(void *arg)
{
    uint32_t s = (uint32_t)(uintptr_t)arg; /* thread 0: stripe 0, thread 1: stripe 1 */
    pthread_barrier_wait(&go);
    double t0 = thread_cpu_s();
    for (long i = 0; i < iters; i++) {
        ht_lock(s);
        ht_unlock(s);
    }
    account(t0);
    return NULL;
}

static volatile uint64_t sink;

static void *
cas_worker(void *arg)
{
    (void)arg;
    uint64_t x = 0;
    pthread_barrier_wait(&go);
    double t0 = thread_cpu_s();
    for (long i = 0; i < iters; i++)
        x += item_cas_next();
    account(t0);
    sink = x;
    return NULL;
}

static double
run(void *(*fn)(void *))
{
    pthread_t t[2];
    pthread_barrier_init(&go, NULL, 3);
    for (uintptr_t i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, fn, (void *)i);
        cpu_set_t one; /* one thread a core, so that they run at once */
        CPU_ZERO(&one);
        CPU_SET((int)i, &one);
        (void)pthread_setaffinity_np(t[i], sizeof(one), &one);
    }
    cpu_total = 0;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    return cpu_total * 1e9 / (2.0 * (double)iters);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    if (ht_setup(16) != 0)
        return 1;
    item_cas_reset(true);
    double st = run(stripe_worker);
    double cas = run(cas_worker);
    printf("stripe_ns=%.2f cas_ns=%.2f\n", st, cas);
    return 0;
}
