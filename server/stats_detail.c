/*
 * stats_detail.c - per-prefix get/hit/set/del counts (see stats_detail.h).
 *
 * A thread's table is created on its first count and registered in a list
 * (list_lock: taken once per thread, and by dump and clear). Each table has
 * its own mutex: its owner takes it for a count (never contended but by a
 * dump or a reset), so no lock is shared by the workers.
 */
#include "config.h"

#include "server/stats_detail.h"

#include "server/settings.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETAIL_BUCKETS 256

_Atomic bool stats_detail_on;

struct prefix {
    struct prefix *next;
    uint64_t get, hit, set, del;
    size_t n;
    char name[];
};

struct table {
    pthread_mutex_t lock;
    struct table *next_table;
    struct prefix *b[DETAIL_BUCKETS];
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *tables;
static _Thread_local struct table *mine;

static uint32_t hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static char delimiter(void)
{
    return settings.prefix_delimiter != NULL && settings.prefix_delimiter[0] != '\0' ? settings.prefix_delimiter[0]
                                                                                     : ':';
}

void stats_detail_enable(bool on)
{
    atomic_store(&stats_detail_on, on);
}

static struct prefix *find(struct table *t, const char *p, size_t n, bool create)
{
    struct prefix **pp = &t->b[hash(p, n) % DETAIL_BUCKETS];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->n == n && memcmp((*pp)->name, p, n) == 0)
            return *pp;
    }
    if (!create)
        return NULL;
    struct prefix *x = calloc(1, sizeof(*x) + n + 1);
    if (x == NULL)
        return NULL;
    memcpy(x->name, p, n);
    x->n = n;
    *pp = x;
    return x;
}

void stats_detail_record(const char *key, size_t nkey, enum detail_op op, bool hit)
{
    const char *d = memchr(key, delimiter(), nkey);
    if (d == NULL)
        return;
    if (mine == NULL) {
        struct table *t = calloc(1, sizeof(*t));
        if (t == NULL)
            return;
        pthread_mutex_init(&t->lock, NULL);
        pthread_mutex_lock(&list_lock);
        t->next_table = tables;
        tables = t;
        pthread_mutex_unlock(&list_lock);
        mine = t; /* tables live as long as the process: a thread's counts outlive it */
    }
    pthread_mutex_lock(&mine->lock);
    struct prefix *x = find(mine, key, (size_t)(d - key), true);
    if (x != NULL) {
        switch (op) {
        case DETAIL_GET:
            x->get++;
            x->hit += hit;
            break;
        case DETAIL_SET: x->set++; break;
        case DETAIL_DEL: x->del++; break;
        }
    }
    pthread_mutex_unlock(&mine->lock);
}

char *stats_detail_dump(size_t *len)
{
    struct table sum;
    memset(&sum, 0, sizeof(sum));
    bool oom = false;
    pthread_mutex_lock(&list_lock);
    for (struct table *t = tables; t != NULL; t = t->next_table) {
        pthread_mutex_lock(&t->lock);
        for (unsigned i = 0; i < DETAIL_BUCKETS; i++) {
            for (struct prefix *p = t->b[i]; p != NULL; p = p->next) {
                struct prefix *s = find(&sum, p->name, p->n, true);
                if (s == NULL) {
                    oom = true;
                    continue;
                }
                s->get += p->get;
                s->hit += p->hit;
                s->set += p->set;
                s->del += p->del;
            }
        }
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&list_lock);

    size_t cap = 6, n = 0; /* "END\r\n" and a NUL (the binary encoder reads a string) */
    for (unsigned i = 0; i < DETAIL_BUCKETS; i++)
        for (struct prefix *p = sum.b[i]; p != NULL; p = p->next)
            cap += p->n + 7 + 4 * (5 + 20);
    char *out = oom ? NULL : malloc(cap);
    for (unsigned i = 0; i < DETAIL_BUCKETS; i++) {
        struct prefix *p = sum.b[i];
        while (p != NULL) {
            if (out != NULL)
                n += (size_t)snprintf(out + n, cap - n,
                                      "PREFIX %s get %" PRIu64 " hit %" PRIu64 " set %" PRIu64 " del %" PRIu64 "\r\n",
                                      p->name, p->get, p->hit, p->set, p->del);
            struct prefix *next = p->next;
            free(p);
            p = next;
        }
    }
    if (out == NULL)
        return NULL;
    memcpy(out + n, "END\r\n", 6);
    *len = n + 5;
    return out;
}

void stats_detail_clear(void)
{
    pthread_mutex_lock(&list_lock);
    for (struct table *t = tables; t != NULL; t = t->next_table) {
        pthread_mutex_lock(&t->lock);
        for (unsigned i = 0; i < DETAIL_BUCKETS; i++) {
            struct prefix *p = t->b[i];
            while (p != NULL) {
                struct prefix *next = p->next;
                free(p);
                p = next;
            }
            t->b[i] = NULL;
        }
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&list_lock);
}
