/*
 * logbuf.c - the single-producer single-consumer ring of log records
 * (see logbuf.h). Positions are byte counts that only grow; a position's
 * offset in the ring is pos & (size - 1), the size being a power of two
 * (so the offsets stay right when a count wraps at 2^64, and the mask
 * costs no division). Every record starts 8-aligned;
 * when fewer bytes than a header are left before the end, the consumer
 * wraps without a marker.
 */
#include "config.h"

#include "server/logbuf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
#define HDR sizeof(struct logbuf_rec)

_Static_assert(HDR % 8 == 0, "a record header keeps records 8-aligned");
_Static_assert(offsetof(struct logbuf, data) % 8 == 0, "records in data are 8-aligned");
_Static_assert((LOGBUF_MIN_SIZE & (LOGBUF_MIN_SIZE - 1)) == 0 && (LOGBUF_MAX_SIZE & (LOGBUF_MAX_SIZE - 1)) == 0 &&
                   (LOGBUF_DEFAULT_SIZE & (LOGBUF_DEFAULT_SIZE - 1)) == 0,
               "ring sizes are powers of two");
_Static_assert(HDR + ALIGN8(LOGBUF_REC_MAX) <= LOGBUF_MIN_SIZE / 2, "the smallest ring takes the longest record");

size_t logbuf_ring_size(uint64_t bytes)
{
    if (bytes >= LOGBUF_MAX_SIZE)
        return LOGBUF_MAX_SIZE;
    size_t size = LOGBUF_MIN_SIZE;
    while (size < bytes)
        size <<= 1;
    return size;
}

struct logbuf *logbuf_create(size_t size)
{
    size = logbuf_ring_size(size);
    struct logbuf *b = calloc(1, sizeof(struct logbuf) + size);
    if (b != NULL)
        b->size = size;
    return b;
}

void logbuf_destroy(struct logbuf *b)
{
    free(b);
}

char *logbuf_reserve(struct logbuf *b, size_t max)
{
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&b->head, memory_order_acquire);
    size_t size = b->size;
    size_t need = HDR + ALIGN8(max);
    size_t off = (size_t)(tail & (size - 1));
    size_t skip = size - off >= need ? 0 : size - off;
    if (need > size / 2 || (uint64_t)size - (tail - head) < skip + need) {
        atomic_store_explicit(&b->dropped, atomic_load_explicit(&b->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return NULL;
    }
    if (skip >= HDR) {
        struct logbuf_rec wrap = {.len = LOGBUF_WRAP};
        memcpy(b->data + off, &wrap, HDR);
    }
    b->res_pos = tail + skip;
    return b->data + (size_t)(b->res_pos & (size - 1)) + HDR;
}

void logbuf_commit(struct logbuf *b, size_t len, uint32_t stream, int64_t sec, int64_t usec)
{
    struct logbuf_rec r = {.len = (uint32_t)len, .stream = stream, .sec = sec, .usec = usec};
    memcpy(b->data + (size_t)(b->res_pos & (b->size - 1)), &r, HDR);
    atomic_store_explicit(&b->tail, b->res_pos + HDR + ALIGN8(len), memory_order_release);
}

const struct logbuf_rec *logbuf_peek(struct logbuf *b, const char **text)
{
    uint64_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
    size_t size = b->size;
    for (;;) {
        if (head == tail)
            return NULL;
        size_t off = (size_t)(head & (size - 1));
        const struct logbuf_rec *r = (const struct logbuf_rec *)(const void *)(b->data + off);
        if (size - off < HDR || r->len == LOGBUF_WRAP) {
            head += size - off;
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
