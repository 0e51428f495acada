/*
 * logbuf.c - the single-producer single-consumer ring of log records
 * (see logbuf.h). Positions are byte counts that only grow; a position's
 * offset in the ring is pos % LOGBUF_SIZE. Every record starts 8-aligned;
 * when fewer bytes than a header are left before the end, the consumer
 * wraps without a marker.
 */
#include "config.h"

#include "server/logbuf.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
#define HDR sizeof(struct logbuf_rec)

_Static_assert(HDR % 8 == 0, "a record header keeps records 8-aligned");
_Static_assert((LOGBUF_SIZE & (LOGBUF_SIZE - 1)) == 0, "the ring's size is a power of two");

struct logbuf *logbuf_create(void)
{
    return calloc(1, sizeof(struct logbuf));
}

void logbuf_destroy(struct logbuf *b)
{
    free(b);
}

char *logbuf_reserve(struct logbuf *b, size_t max)
{
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&b->head, memory_order_acquire);
    size_t need = HDR + ALIGN8(max);
    size_t off = (size_t)(tail % LOGBUF_SIZE);
    size_t skip = LOGBUF_SIZE - off >= need ? 0 : LOGBUF_SIZE - off;
    if (need > LOGBUF_SIZE / 2 || (uint64_t)LOGBUF_SIZE - (tail - head) < skip + need) {
        atomic_store_explicit(&b->dropped, atomic_load_explicit(&b->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return NULL;
    }
    if (skip >= HDR) {
        struct logbuf_rec wrap = {.len = LOGBUF_WRAP};
        memcpy(b->data + off, &wrap, HDR);
    }
    b->res_pos = tail + skip;
    return b->data + (size_t)(b->res_pos % LOGBUF_SIZE) + HDR;
}

void logbuf_commit(struct logbuf *b, size_t len, uint32_t stream, int64_t sec, int64_t usec)
{
    struct logbuf_rec r = {.len = (uint32_t)len, .stream = stream, .sec = sec, .usec = usec};
    memcpy(b->data + (size_t)(b->res_pos % LOGBUF_SIZE), &r, HDR);
    atomic_store_explicit(&b->tail, b->res_pos + HDR + ALIGN8(len), memory_order_release);
}

const struct logbuf_rec *logbuf_peek(struct logbuf *b, const char **text)
{
    uint64_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
    for (;;) {
        if (head == tail)
            return NULL;
        size_t off = (size_t)(head % LOGBUF_SIZE);
        const struct logbuf_rec *r = (const struct logbuf_rec *)(const void *)(b->data + off);
        if (LOGBUF_SIZE - off < HDR || r->len == LOGBUF_WRAP) {
            head += LOGBUF_SIZE - off;
            atomic_store_explicit(&b->head, head, memory_order_release);
            continue;
        }
        *text = b->data + off + HDR;
        return r;
    }
}

void logbuf_next_done(struct logbuf *b, const struct logbuf_rec *r)
{
    uint64_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
    atomic_store_explicit(&b->head, head + HDR + ALIGN8(r->len), memory_order_release);
}
