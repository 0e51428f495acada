/*
 * engine.c - the segment engine's life cycle beside the slab store's: the
 * flag store/engine.h routes on, and the once-a-second maintainer thread
 * that expires whole segments (the slab store's is in expire.c).
 */
#include "config.h"

#include "store/engine.h"
#include "store/crawler.h"
#include "store/store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

bool store_seg_on;

static pthread_t seg_maint_thread;
static bool seg_maint_running;
static pthread_mutex_t seg_maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seg_maint_cond = PTHREAD_COND_INITIALIZER;
static bool seg_maint_stop;

static void *
seg_maint_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&seg_maint_lock);
    while (!seg_maint_stop) {
        pthread_mutex_unlock(&seg_maint_lock);
        seg_engine_maintain();
        pthread_mutex_lock(&seg_maint_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        while (!seg_maint_stop && pthread_cond_timedwait(&seg_maint_cond, &seg_maint_lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&seg_maint_lock);
    return NULL;
}

int
store_int_seg_setup(const struct store_options *o)
{
    if (seg_engine_setup(o) != 0)
        return -1;
    store_seg_on = true;
    if (o->background_threads) {
        seg_maint_stop = false;
        int rc = pthread_create(&seg_maint_thread, NULL, seg_maint_main, NULL);
        if (rc != 0) {
            seg_engine_teardown();
            store_seg_on = false;
            errno = rc;
            return -1;
        }
        seg_maint_running = true;
    }
    return 0;
}

void
store_int_seg_teardown(void)
{
    crawler_teardown(); /* a crawl walks the index: stopped before it goes */
    if (seg_maint_running) {
        pthread_mutex_lock(&seg_maint_lock);
        seg_maint_stop = true;
        pthread_cond_signal(&seg_maint_cond);
        pthread_mutex_unlock(&seg_maint_lock);
        pthread_join(seg_maint_thread, NULL);
        seg_maint_running = false;
    }
    seg_engine_teardown();
    store_seg_on = false;
}

bool
store_segments(void)
{
    return store_seg_on;
}

void
store_thread_tick(void)
{
    if (store_seg_on)
        seg_engine_thread_tick();
}

void
store_thread_release(void)
{
    if (store_seg_on)
        seg_engine_thread_release();
}
