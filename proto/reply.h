/*
 * reply.h - the reply builder: what a connection has still to send, as an
 * array of iovecs ready for writev/sendmsg.
 *
 * Small text (headers, status lines, numbers) is copied into arena blocks the
 * builder owns; adjacent copies merge into one iovec. Static strings and item
 * values are referenced, not copied: a referenced piece may carry an `owner`
 * (an item) that the builder hands to the release callback exactly once, when
 * that piece has been fully sent (reply_consume) or dropped (reply_clear).
 * Arena blocks never move once written, so iovecs into them stay valid.
 * After everything is sent the builder frees all but one arena block, so a
 * large reply does not pin memory for the life of the connection.
 *
 * Not thread safe: one builder belongs to one connection.
 */
#ifndef MCD_REPLY_H
#define MCD_REPLY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

typedef void (*reply_release_fn)(void *owner);

struct reply_block;

struct reply {
    struct iovec *iov;        /* pending pieces; iov[head..niov) unsent */
    void **owner;             /* owner[i] of iov[i], or NULL */
    size_t head, niov, cap;
    size_t bytes;             /* unsent bytes in all */
    char *wp, *wend;          /* the newest block's free room [wp, wend) */
    char *merge_end;          /* the end of the last piece when it is an arena
                               * copy a commit may extend, else NULL */
    struct reply_block *blocks; /* arena blocks, newest first */
    reply_release_fn release;
};

/* Sets up an empty builder; `release` gets each owner once (may be NULL). */
void reply_init(struct reply *r, reply_release_fn release);
/* Releases every owner still held and frees all memory. */
void reply_deinit(struct reply *r);
/* Drops everything unsent (releasing owners) and keeps the builder usable. */
void reply_clear(struct reply *r);

/* Appends n bytes copied from p. Returns 0, or -1 when out of memory. */
int reply_add_copy(struct reply *r, const void *p, size_t n);
/* Appends a NUL-terminated static string by reference. */
int reply_add_static(struct reply *r, const char *s);
/* Appends n bytes at p by reference; `owner` (may be NULL) pins them and is
 * released once they are sent. On failure the owner is NOT released. */
int reply_add_ref(struct reply *r, const void *p, size_t n, void *owner);
/* Appends formatted text (copied). */
int reply_printf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int reply_vprintf(struct reply *r, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Making several appends atomic (added for the encoders' hot path).
 * reply_ensure: after it returns 0, the next `iovs` appends whose copied
 * bytes total at most `copy_bytes` cannot fail (no allocation happens in
 * them). Returns -1 when out of memory (nothing changed).
 * reply_reserve: returns room for n bytes in the arena (and one iovec slot),
 * or NULL when out of memory; write into it, then reply_commit(r, used) with
 * used <= n appends those bytes as a copy (merging with a preceding copy).
 * Any other append between the two invalidates the reservation.
 */
int reply_ensure(struct reply *r, size_t iovs, size_t copy_bytes);
char *reply_reserve(struct reply *r, size_t n);
static inline void reply_commit(struct reply *r, size_t used);

/*
 * The encoders' hot path, inline (a multiget runs it for every key).
 * reply_reserve_iovs: as reply_reserve, but also makes room for `iovs`
 * pieces; the returned room and those slots stay valid until reply_commit,
 * reply_push_ref and reply_push_copy have used them (any other append may
 * take them). NULL when out of memory (nothing changed).
 * reply_push_ref: reply_add_ref into a slot reserved that way (cannot fail).
 * reply_push_copy: copies n bytes into the reserved room and commits them.
 */
char *reply_reserve_slow(struct reply *r, size_t n, size_t iovs);

static inline char *reply_reserve_iovs(struct reply *r, size_t n, size_t iovs)
{
    if ((size_t)(r->wend - r->wp) >= n && r->cap - r->niov >= iovs)
        return r->wp;
    return reply_reserve_slow(r, n, iovs);
}

static inline void reply_push_iov(struct reply *r, const void *p, size_t n, void *owner)
{
    r->iov[r->niov].iov_base = (void *)(uintptr_t)p;
    r->iov[r->niov].iov_len = n;
    r->owner[r->niov] = owner;
    r->niov++;
    r->bytes += n;
    r->merge_end = NULL;
}

static inline void reply_commit(struct reply *r, size_t used)
{
    char *p = r->wp;

    if (used == 0)
        return;
    r->wp = p + used;
    if (p == r->merge_end) {
        /* the last piece is a copy that ends here: it grows */
        r->iov[r->niov - 1].iov_len += used;
        r->bytes += used;
    } else {
        reply_push_iov(r, p, used, NULL);
    }
    r->merge_end = p + used;
}

static inline void reply_push_ref(struct reply *r, const void *p, size_t n, void *owner)
{
    /* an empty piece with an owner is kept so the owner is released in order */
    if (n != 0 || owner != NULL)
        reply_push_iov(r, p, n, owner);
}

/*
 * A reference framed by two copies, e.g. "VALUE ...\r\n" + value + "\r\n":
 * the caller has written the header (hlen > 0 bytes) and the trailer (tlen
 * > 0 bytes) one after the other into room from reply_reserve_iovs(r,
 * >= hlen + tlen, 3); this commits header, reference and trailer as one
 * step (the header merges with a copy just before it, an empty reference
 * without an owner is left out).
 */
static inline void reply_commit_framed(struct reply *r, size_t hlen, const void *ref, size_t n, void *owner,
                                       size_t tlen)
{
    char *p = r->wp;
    struct iovec *iov = r->iov + r->niov;
    void **own = r->owner + r->niov;

    if (p == r->merge_end) {
        iov[-1].iov_len += hlen;
    } else {
        iov->iov_base = p;
        iov->iov_len = hlen;
        iov++;
        *own++ = NULL;
    }
    if (n != 0 || owner != NULL) {
        iov->iov_base = (void *)(uintptr_t)ref;
        iov->iov_len = n;
        iov++;
        *own++ = owner;
    }
    iov->iov_base = p + hlen;
    iov->iov_len = tlen;
    iov++;
    *own = NULL;
    r->niov = (size_t)(iov - r->iov);
    r->bytes += hlen + n + tlen;
    r->wp = p + hlen + tlen;
    r->merge_end = r->wp;
}

static inline void reply_push_copy(struct reply *r, const void *p, size_t n)
{
    memcpy(r->wp, p, n);
    reply_commit(r, n);
}

/* Bytes of arena memory held (for memory accounting and tests). */
size_t reply_arena_bytes(const struct reply *r);

/* The unsent pieces: *iovcnt of them from the returned pointer (NULL when
 * there are none: a builder that never grew has no array to offset). */
static inline const struct iovec *reply_pending(const struct reply *r, size_t *iovcnt)
{
    *iovcnt = r->niov - r->head;
    return *iovcnt > 0 ? r->iov + r->head : NULL;
}
static inline bool reply_empty(const struct reply *r) { return r->head == r->niov; }

/* What the unsent pieces weigh: their bytes plus REPLY_IOV_WEIGHT per
 * piece, so that replies made of many tiny pieces (a get of many small
 * values) are bounded by the memory they hold, not only by their length. */
#define REPLY_IOV_WEIGHT 24            /* sizeof(struct iovec) + the owner pointer */
static inline size_t reply_weight(const struct reply *r)
{
    return r->bytes + (r->niov - r->head) * REPLY_IOV_WEIGHT;
}

/* Marks n bytes as sent: advances, releases owners of pieces fully sent,
 * and resets (shrinking the arena) once nothing is left. */
void reply_consume(struct reply *r, size_t n);

#endif /* MCD_REPLY_H */
