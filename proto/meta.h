/*
 * meta.h - memcached's meta text commands (mg ms md ma mn me): parse one
 * command line into a self-contained `struct meta_request`, and encode the
 * replies (HD, VA, EN, NF, NS, EX, MN, ME).
 *
 * Pure functions over byte buffers: no sockets, no store, no libevent.
 * Unlike `struct mc_request`, a meta request holds no pointer into the
 * caller's buffer (the key, decoded from base64 when the b flag is given,
 * and the opaque are copied), so a server may keep it while an ms value is
 * being read. See the table at the top of meta.c for every rule and the
 * memcached 1.6.45 reply it was checked against.
 */
#ifndef MCD_META_H
#define MCD_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

struct reply;

enum meta_cmd {
    META_CMD_MG = 0,
    META_CMD_MS,
    META_CMD_MD,
    META_CMD_MA,
    META_CMD_MN,
    META_CMD_ME,
};

/* Limits, as memcached 1.6.45 enforces them. */
#define META_TOKENS_MAX 20        /* command + key (+ datalen) + flags; more: "too long" */
#define META_FLAGS_MAX 18         /* so at most this many flag tokens */
#define META_OPAQUE_MAX 31        /* bytes after 'O' */

/* The bit of a flag letter in meta_request.seen (A-Z, a-z). */
#define META_BIT(ch) \
    ((ch) >= 'a' ? (UINT64_C(1) << (26 + (ch) - 'a')) : (UINT64_C(1) << ((ch) - 'A')))

struct meta_request {
    enum meta_cmd cmd;
    char key[PROTO_KEY_MAX];      /* decoded key (b flag: base64 decoded) */
    uint8_t nkey;
    bool key_binary;              /* b: return keys base64 encoded, with " b" */
    uint32_t vlen;                /* ms: data length (the "\r\n" not included) */
    uint64_t seen;                /* META_BIT() of every flag given */
    char order[META_FLAGS_MAX];   /* flag letters in request order */
    uint8_t nflags;
    char opaque[META_OPAQUE_MAX];
    uint8_t nopaque;
    bool opaque_too_long;         /* O over 31 bytes: answered with an error */
    uint32_t client_flags;        /* F */
    int32_t ttl;                  /* T, as sent (convert with the store) */
    int32_t vivify_ttl;           /* N */
    int32_t recache;              /* R */
    uint64_t cas;                 /* C */
    uint64_t new_cas;             /* E: the CAS a modified item gets */
    uint64_t initial;             /* J (ma), default 0 */
    uint64_t delta;               /* D (ma), default 1 */
    char mode;                    /* M: the mode letter; 0 when absent */
};

static inline bool meta_has(const struct meta_request *m, char flag)
{
    return (m->seen & META_BIT(flag)) != 0;
}

/*
 * True when buf starts (after spaces) with a meta command name followed by
 * a space or the end of the line, i.e. when meta_parse() should be used
 * instead of text_parse(). False when it cannot tell yet (the caller's
 * text_parse() then asks for more bytes the same way).
 */
bool meta_is_meta(const char *buf, size_t len);

/*
 * Parses one meta command line from buf[0..len).
 * PROTO_OK: *req filled; *consumed = the line including "\n". For ms the
 *   caller then reads req->vlen bytes plus "\r\n".
 * PROTO_NEED_MORE: no complete line yet.
 * PROTO_ERROR: reply "ERROR" (e.g. "mg" without a key); skip *consumed.
 * PROTO_CLIENT_ERROR: reply "CLIENT_ERROR " *errmsg (never silenced by q);
 *   skip *consumed, then drop *swallow more bytes (ms whose header was
 *   understood up to its data length: memcached swallows the data block).
 * PROTO_CLOSE: an endless line; close the connection.
 */
enum proto_status meta_parse(const char *buf, size_t len, struct meta_request *req, size_t *consumed,
                             const char **errmsg, size_t *swallow);

/* ---- replies ---- */

enum meta_status {
    META_HD = 0,  /* success without a value */
    META_VA,      /* success with a value (mg v, ma v) */
    META_EN,      /* mg/me miss */
    META_NF,      /* not found */
    META_NS,      /* not stored */
    META_EX,      /* exists (CAS mismatch) */
};

/* What the command layer found, for meta_encode(). */
struct meta_result {
    enum meta_status status;
    /* key to return with k (the item's key, decoded form) */
    const char *key;
    size_t nkey;
    bool key_binary;              /* k shows the key base64 encoded, with " b" */
    /* VA: the data block, referenced; `owner` is released once sent */
    const char *data;
    uint32_t nbytes;
    void *owner;
    /* mg/ma: return values */
    uint32_t flags;               /* f */
    uint64_t cas;                 /* c (ms: 0 unless stored) */
    uint32_t size;                /* s */
    int64_t ttl_before;           /* t before T / N took effect; -1 = none */
    int64_t ttl_touch;            /* t after T (when `touched`) */
    int64_t ttl_vivify;           /* t after N (when `created`) */
    bool touched;                 /* T was applied */
    bool created;                 /* N created the item (mg) */
    bool hit_before;              /* h */
    uint32_t last_access;         /* l: seconds */
    /* mg trailer */
    bool win;                     /* W */
    bool stale;                   /* X */
    bool token_sent;              /* Z (a winner was told before) */
    /* ma: the number for VA (data/nbytes unused) */
    uint64_t number;
};

/*
 * Appends the reply to request `req` with outcome `res`: the code, for VA
 * the size, the return flags in request order (those the command returns
 * for that outcome), then for mg Z / X / W, "\r\n" and for VA the data
 * block. Returns 0, or -1 when out of memory (the owner is then NOT
 * consumed). The q flag is the caller's business (meta_quiet()).
 */
int meta_encode(struct reply *r, const struct meta_request *req, const struct meta_result *res);

/* Whether memcached leaves this outcome unsaid under q. */
bool meta_quiet(const struct meta_request *req, enum meta_status st);

/* "MN\r\n" */
int meta_encode_mn(struct reply *r);

/* me: "ME <key> exp=.. la=.. cas=.. fetch=yes|no cls=.. size=..\r\n";
 * the key is base64 encoded when the item's is binary (d->key_binary). */
struct meta_debug {
    bool key_binary;
    int64_t exp;                  /* -1 = never, else seconds left */
    uint64_t la;
    uint64_t cas;
    bool fetched;
    unsigned cls;
    uint64_t size;
};
int meta_encode_debug(struct reply *r, const struct meta_request *req, const struct meta_debug *d);

/* Base64 (standard alphabet, padded), as memcached uses for b keys.
 * decode: returns the decoded length, 0 on malformed input or when out_cap
 * is too small. encode: returns the encoded length (out_cap >= 4*((n+2)/3)). */
size_t meta_base64_decode(const char *in, size_t n, char *out, size_t out_cap);
size_t meta_base64_encode(const char *in, size_t n, char *out, size_t out_cap);

#endif /* MCD_META_H */
