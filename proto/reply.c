/*
 * reply.c - the reply builder (see reply.h for the contract).
 *
 * Layout:
 *
 *   iov[]   [ sent ... | head ............................ niov | free ... cap ]
 *   owner[] parallel to iov[]: the pin to release once iov[i] is fully sent
 *
 *   blocks  newest -> older -> ... : arena blocks { next, size, data[] }; the newest one is
 *           filled from r->wp up to r->wend
 *           Copies go to the newest block only; a copy that does not fit in
 *           what is left of it opens a new block (REPLY_BLOCK_SIZE, or the
 *           piece's size when larger). Old blocks are never written again
 *           and never move, so iovecs into them stay valid until reset.
 *
 * Merging: a copy that lands right where the last pending iovec ends (that
 * iovec being an arena copy: r->merge_end) extends that iovec instead of
 * adding one, so a run of small writes ("VALUE ... \r\n" after the previous
 * "\r\n") costs one iovec.
 *
 * Reset: when reply_consume() or reply_clear() empties the queue, head and
 * niov go back to 0, every block but one default-sized block is freed and
 * oversized iov/owner arrays are dropped, so a huge multiget does not pin
 * its memory for the life of the connection.
 *
 * Not thread safe; one builder per connection.
 */
#include "config.h"

#include "proto/reply.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_BLOCK_SIZE 4096   /* data bytes in a default arena block */
#define REPLY_IOV_INIT 16       /* first iov/owner array size */
#define REPLY_IOV_KEEP 1024     /* arrays larger than this are freed on reset */

struct reply_block {
    struct reply_block *next; /* older block */
    size_t size;              /* data bytes; the newest block's free room is [r->wp, r->wend) */
    char data[];
};

/* Where wp and wend point while there is no block: no room, but a valid
 * pointer for a reservation of 0 bytes. */
static char reply_no_room[1];

void reply_init(struct reply *r, reply_release_fn release)
{
    memset(r, 0, sizeof(*r));
    r->wp = r->wend = reply_no_room;
    r->release = release;
}

static void release_range(struct reply *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        void *o = r->owner[i];
        if (o != NULL) {
            r->owner[i] = NULL;
            if (r->release != NULL)
                r->release(o);
        }
    }
}

/* Back to empty: keeps one default-sized block (emptied), frees the rest. */
static void reply_reset(struct reply *r)
{
    struct reply_block *keep = NULL;
    struct reply_block *b = r->blocks;

    if (b != NULL && b->next == NULL && b->size == REPLY_BLOCK_SIZE && r->cap <= REPLY_IOV_KEEP) {
        /* one default block, small arrays (the usual case): rewind */
        r->wp = b->data;
        r->wend = b->data + b->size;
        r->merge_end = NULL;
        r->head = r->niov = 0;
        r->bytes = 0;
        return;
    }

    while (b != NULL) {
        struct reply_block *next = b->next;
        if (keep == NULL && b->size == REPLY_BLOCK_SIZE) {
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        r->wp = keep->data;
        r->wend = keep->data + keep->size;
    } else {
        r->wp = r->wend = reply_no_room;
    }
    r->blocks = keep;
    r->merge_end = NULL;
    r->head = r->niov = 0;
    r->bytes = 0;
    if (r->cap > REPLY_IOV_KEEP) {
        free(r->iov);
        free(r->owner);
        r->iov = NULL;
        r->owner = NULL;
        r->cap = 0;
    }
}

void reply_clear(struct reply *r)
{
    release_range(r, r->head, r->niov);
    reply_reset(r);
}

void reply_deinit(struct reply *r)
{
    reply_clear(r);
    free(r->blocks);
    free(r->iov);
    free(r->owner);
    memset(r, 0, sizeof(*r));
    r->wp = r->wend = reply_no_room;
}

/* Room for `more` iovecs after niov: first slide the pending ones down over
 * the sent ones when that frees enough, else double. */
static int grow_iov(struct reply *r, size_t more)
{
    size_t pending = r->niov - r->head;

    if (r->niov + more <= r->cap)
        return 0;
    if (r->head > 0 && pending + more <= r->cap && r->head >= r->cap / 2) {
        memmove(r->iov, r->iov + r->head, pending * sizeof(*r->iov));
        memmove(r->owner, r->owner + r->head, pending * sizeof(*r->owner));
        r->head = 0;
        r->niov = pending;
        return 0;
    }
    size_t cap = r->cap ? r->cap : REPLY_IOV_INIT;
    while (cap < r->niov + more)
        cap *= 2;
    struct iovec *iov = realloc(r->iov, cap * sizeof(*iov));
    if (iov == NULL)
        return -1;
    r->iov = iov;
    void **owner = realloc(r->owner, cap * sizeof(*owner));
    if (owner == NULL)
        return -1; /* iov is bigger now, which is harmless */
    r->owner = owner;
    r->cap = cap;
    return 0;
}

/* Makes the newest block have n free bytes. */
static int grow_arena(struct reply *r, size_t n)
{
    struct reply_block *b;

    if ((size_t)(r->wend - r->wp) >= n)
        return 0;
    size_t size = n > REPLY_BLOCK_SIZE ? n : REPLY_BLOCK_SIZE;
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return -1;
    b->size = size;
    b->next = r->blocks;
    r->blocks = b;
    r->wp = b->data;
    r->wend = b->data + size;
    return 0;
}

int reply_ensure(struct reply *r, size_t iovs, size_t copy_bytes)
{
    if (r->niov + iovs > r->cap && grow_iov(r, iovs) != 0)
        return -1;
    if (copy_bytes > 0 && grow_arena(r, copy_bytes) != 0)
        return -1;
    return 0;
}

char *reply_reserve_slow(struct reply *r, size_t n, size_t iovs)
{
    if (reply_ensure(r, iovs, n) != 0)
        return NULL;
    return r->wp; /* reply_no_room when n == 0 and there is no block yet */
}

char *reply_reserve(struct reply *r, size_t n)
{
    return reply_reserve_iovs(r, n, 1);
}

int reply_add_copy(struct reply *r, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (reply_reserve_iovs(r, n, 1) == NULL)
        return -1;
    reply_push_copy(r, p, n);
    return 0;
}

int reply_add_ref(struct reply *r, const void *p, size_t n, void *owner)
{
    if (n == 0 && owner == NULL)
        return 0;
    if (r->niov + 1 > r->cap && grow_iov(r, 1) != 0)
        return -1;
    reply_push_iov(r, p, n, owner);
    return 0;
}

int reply_add_static(struct reply *r, const char *s)
{
    return reply_add_ref(r, s, strlen(s), NULL);
}

int reply_vprintf(struct reply *r, const char *fmt, va_list ap)
{
    size_t room = (size_t)(r->wend - r->wp);
    va_list ap2;
    int len;

    if (reply_ensure(r, 1, 0) != 0)
        return -1;
    va_copy(ap2, ap);
    if (room > 0) {
        len = vsnprintf(r->wp, room, fmt, ap2);
    } else {
        len = vsnprintf(NULL, 0, fmt, ap2);
    }
    va_end(ap2);
    if (len < 0)
        return -1;
    if ((size_t)len >= room) {
        /* did not fit (vsnprintf needs room for its NUL): open a block */
        char *dst = reply_reserve(r, (size_t)len + 1);
        if (dst == NULL)
            return -1;
        va_copy(ap2, ap);
        len = vsnprintf(dst, (size_t)len + 1, fmt, ap2);
        va_end(ap2);
        if (len < 0)
            return -1;
    }
    reply_commit(r, (size_t)len);
    return 0;
}

int reply_printf(struct reply *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = reply_vprintf(r, fmt, ap);
    va_end(ap);
    return rc;
}

size_t reply_arena_bytes(const struct reply *r)
{
    size_t n = 0;

    for (const struct reply_block *b = r->blocks; b != NULL; b = b->next)
        n += b->size;
    return n;
}

void reply_consume(struct reply *r, size_t n)
{
    if (n >= r->bytes) {
        /* all sent (the usual case): release the owners in one pass */
        if (r->release != NULL) {
            for (size_t i = r->head; i < r->niov; i++) {
                if (r->owner[i] != NULL)
                    r->release(r->owner[i]);
            }
        }
        reply_reset(r);
        return;
    }
    while (r->head < r->niov) {
        struct iovec *v = &r->iov[r->head];
        if (n < v->iov_len) {
            if (n > 0) {
                v->iov_base = (char *)v->iov_base + n;
                v->iov_len -= n;
                r->bytes -= n;
            }
            return;
        }
        n -= v->iov_len;
        r->bytes -= v->iov_len;
        v->iov_len = 0;
        void *o = r->owner[r->head];
        r->owner[r->head] = NULL;
        r->head++;
        if (o != NULL && r->release != NULL)
            r->release(o);
    }
    reply_reset(r);
}
