/*
 * binary.c - memcached's binary protocol codec (see binary.h for the
 * caller's contract). Owns no state; knows nothing of sockets or the store.
 *
 * Every opcode memcached 1.6 knows, what it parses into, the header shape it
 * must have, and what memcached 1.6.45 answers (checked by sending packets to
 * it: tests/integration/cases/binary.cases and test_binary_matrix). "Shape"
 * violations are answered 0x04 "Invalid arguments" and the connection is
 * closed after the write.
 *
 * A header CAS (checked in store_link, the same rules for every protocol):
 * Set/Add/Replace(+Q) with a CAS are a compare-and-swap (match: stored; stale:
 * 2; key missing: 1), Append/Prepend compare it with a present item (stale:
 * 2; missing: 5 "Not stored."), Delete and Incr/Decr compare it with a
 * present item, and Incr/Decr create a missing key all the same. Under -C
 * items hold no CAS: a storage command's CAS is ignored, while Delete and
 * Incr/Decr with a non-zero CAS on a present key answer 2 (the item's CAS
 * reads as 0). Get/Touch/GAT/Noop/Version/Stat/Flush/Quit ignore it.
 *
 *  op    name        mc_cmd      shape (ext / key / body)        reply on success
 *  0x00  get         GET         0 / >0 / =key                   flags+value, cas
 *  0x09  getq        GET quiet   0 / >0 / =key                   hit sent, miss silent
 *  0x0c  getk        GET +key    0 / >0 / =key                   flags+key+value; miss: 1 with key
 *  0x0d  getkq       GET q +key  0 / >0 / =key                   hit sent, miss silent
 *  0x1d  gat         GAT         4 / >0 / =ext+key (*)           as get
 *  0x1e  gatq        GAT quiet   4 / >0 / =ext+key (*)           as getq
 *  0x23  gatk        GAT +key    4 / >0 / =ext+key (*)           as getk
 *  0x24  gatkq       GAT q +key  4 / >0 / =ext+key (*)           as getkq
 *  0x1c  touch       TOUCH       4 / >0 / =ext+key (*)           flags extras, cas, no value
 *  0x01  set         SET         8 / >0 / >=ext+key (value)      empty, cas
 *  0x02  add         ADD         8 / >0 / >=ext+key (value)      empty, cas; NOT_STORED -> 2
 *  0x03  replace     REPLACE     8 / >0 / >=ext+key (value)      empty, cas; NOT_STORED -> 1
 *  0x11-0x13 setq/addq/replaceq  as above, quiet                 success silent
 *  0x0e  append      APPEND      0 / >0 / >=key (value)          empty, cas; NOT_STORED -> 5
 *  0x0f  prepend     PREPEND     0 / >0 / >=key (value)          empty, cas
 *  0x19-0x1a appendq/prependq    as above, quiet                 success silent
 *  0x04  delete      DELETE      0 / >0 / =key                   empty, cas 0
 *  0x14  deleteq     DELETE q    0 / >0 / =key                   success silent
 *  0x05  increment   INCR        20 / >0 / =ext+key              8-byte value, cas
 *  0x06  decrement   DECR        20 / >0 / =ext+key              8-byte value, cas
 *  0x15-0x16 incrementq/decrementq  as above, quiet              success silent
 *  0x07  quit        QUIT        0 / 0 / 0                       empty, then close
 *  0x17  quitq       QUIT quiet  0 / 0 / 0                       nothing, close
 *  0x08  flush       FLUSH_ALL   0 or 4 / 0 / =ext               empty
 *  0x18  flushq      FLUSH_ALL q 0 or 4 / 0 / =ext               silent
 *  0x0a  noop        NOOP        0 / 0 / 0                       empty
 *  0x0b  version     VERSION     0 / 0 / 0                       body "1.6.45"
 *  0x10  stat        STATS       0 / any / =key (*)              one packet per stat, empty terminator;
 *                                                                key matched by binary_stat_group();
 *                                                                unknown group: 1 "Not found"
 *  0x20  sasl_list_mechs  -      0 / 0 / 0                       0x81 "Unknown command" (no -S)
 *  0x21  sasl_auth   -           0 / >0 / any                    0x81, body skipped (no -S)
 *  0x22  sasl_step   -           0 / >0 / any                    0x81, body skipped (no -S)
 *  other (0x1b verbosity, 0x25.., 0x30 rget ...)                 0x81, body skipped, conn kept
 *
 * Nothing is decided before header + extras + key are buffered (as memcached
 * 1.6.45; the value is never waited for); over 16 KB of them: close, no reply.
 * Then, for every opcode, in memcached's order:
 *   bodylen > 1 GiB            -> 0x04 "Invalid arguments", close
 *   keylen + extlen > bodylen  -> 0x81 "Unknown command", close
 *   keylen > 250               -> 0x04 "Invalid arguments", close
 *   magic != 0x80              -> close, no reply
 *
 * Error bodies are memcached's: "Not found", "Data exists for key.", "Too
 * large.", "Invalid arguments", "Not stored.", "Non-numeric server-side value
 * for incr or decr", "Auth failure.", "Unknown command", and for 0x82 "Out of
 * memory allocating item" when a storage command cannot get its item, "Out of
 * memory" elsewhere.
 *
 * (*) Deliberate differences from memcached 1.6.45, both about bytes it
 * never reads correctly:
 *   - Touch, GAT* and Stat: memcached does not check bodylen, so extra body bytes
 *     are parsed as the next header and the stream desynchronises (it then
 *     usually closes on a bad magic). We demand bodylen == extlen + keylen
 *     and answer 0x04 + close, which is what such a client sees anyway.
 *   - Unknown opcodes: memcached has already consumed extras + key when it
 *     swallows `bodylen` more bytes (over-reading by extlen + keylen). We
 *     skip exactly the body.
 */
#include "config.h"

#include "proto/binary.h"

#include "proto/proto.h"
#include "proto/reply.h"

#include <string.h>

/* ---- byte order ---------------------------------------------------------- */

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

void binary_header_decode(const void *buf, struct binary_header *h)
{
    const unsigned char *p = buf;

    h->magic = p[0];
    h->opcode = p[1];
    h->keylen = get_u16(p + 2);
    h->extlen = p[4];
    h->datatype = p[5];
    h->status = get_u16(p + 6);
    h->bodylen = get_u32(p + 8);
    h->opaque = get_u32(p + 12);
    h->cas = get_u64(p + 16);
}

void binary_header_encode(void *buf, const struct binary_header *h)
{
    unsigned char *p = buf;

    p[0] = h->magic;
    p[1] = h->opcode;
    put_u16(p + 2, h->keylen);
    p[4] = h->extlen;
    p[5] = h->datatype;
    put_u16(p + 6, h->status);
    put_u32(p + 8, h->bodylen);
    put_u32(p + 12, h->opaque);
    put_u64(p + 16, h->cas);
}

/* ---- the opcode table ---------------------------------------------------- */

/* What a request's header must look like (memcached's dispatch checks). */
enum shape {
    SHAPE_UNKNOWN = 0, /* not an opcode memcached serves: 0x81, skip body */
    SHAPE_EMPTY,       /* no extras, key or body */
    SHAPE_KEY,         /* key only */
    SHAPE_STORE,       /* 8 extras (flags, exptime), key, value */
    SHAPE_CONCAT,      /* key, value */
    SHAPE_ARITH,       /* 20 extras (delta, initial, exptime), key */
    SHAPE_TOUCH,       /* 4 extras (exptime), key */
    SHAPE_FLUSH,       /* 0 or 4 extras (delay) */
    SHAPE_STAT,        /* optional key */
    SHAPE_SASL_LIST,   /* SHAPE_EMPTY, then answered as unknown */
    SHAPE_SASL_AUTH,   /* key, value; answered as unknown */
};

#define OPF_QUIET 0x01 /* a Q opcode */
#define OPF_KEY 0x02   /* a K opcode: the response carries the key */

struct opcode_info {
    const char *name;
    enum mc_cmd cmd;
    enum shape shape;
    uint8_t flags;
};

static const struct opcode_info opcodes[256] = {
    [BINARY_OP_GET] = {"get", MC_CMD_GET, SHAPE_KEY, 0},
    [BINARY_OP_GETQ] = {"getq", MC_CMD_GET, SHAPE_KEY, OPF_QUIET},
    [BINARY_OP_GETK] = {"getk", MC_CMD_GET, SHAPE_KEY, OPF_KEY},
    [BINARY_OP_GETKQ] = {"getkq", MC_CMD_GET, SHAPE_KEY, OPF_QUIET | OPF_KEY},
    [BINARY_OP_GAT] = {"gat", MC_CMD_GAT, SHAPE_TOUCH, 0},
    [BINARY_OP_GATQ] = {"gatq", MC_CMD_GAT, SHAPE_TOUCH, OPF_QUIET},
    [BINARY_OP_GATK] = {"gatk", MC_CMD_GAT, SHAPE_TOUCH, OPF_KEY},
    [BINARY_OP_GATKQ] = {"gatkq", MC_CMD_GAT, SHAPE_TOUCH, OPF_QUIET | OPF_KEY},
    [BINARY_OP_TOUCH] = {"touch", MC_CMD_TOUCH, SHAPE_TOUCH, 0},
    [BINARY_OP_SET] = {"set", MC_CMD_SET, SHAPE_STORE, 0},
    [BINARY_OP_SETQ] = {"setq", MC_CMD_SET, SHAPE_STORE, OPF_QUIET},
    [BINARY_OP_ADD] = {"add", MC_CMD_ADD, SHAPE_STORE, 0},
    [BINARY_OP_ADDQ] = {"addq", MC_CMD_ADD, SHAPE_STORE, OPF_QUIET},
    [BINARY_OP_REPLACE] = {"replace", MC_CMD_REPLACE, SHAPE_STORE, 0},
    [BINARY_OP_REPLACEQ] = {"replaceq", MC_CMD_REPLACE, SHAPE_STORE, OPF_QUIET},
    [BINARY_OP_APPEND] = {"append", MC_CMD_APPEND, SHAPE_CONCAT, 0},
    [BINARY_OP_APPENDQ] = {"appendq", MC_CMD_APPEND, SHAPE_CONCAT, OPF_QUIET},
    [BINARY_OP_PREPEND] = {"prepend", MC_CMD_PREPEND, SHAPE_CONCAT, 0},
    [BINARY_OP_PREPENDQ] = {"prependq", MC_CMD_PREPEND, SHAPE_CONCAT, OPF_QUIET},
    [BINARY_OP_DELETE] = {"delete", MC_CMD_DELETE, SHAPE_KEY, 0},
    [BINARY_OP_DELETEQ] = {"deleteq", MC_CMD_DELETE, SHAPE_KEY, OPF_QUIET},
    [BINARY_OP_INCREMENT] = {"increment", MC_CMD_INCR, SHAPE_ARITH, 0},
    [BINARY_OP_INCREMENTQ] = {"incrementq", MC_CMD_INCR, SHAPE_ARITH, OPF_QUIET},
    [BINARY_OP_DECREMENT] = {"decrement", MC_CMD_DECR, SHAPE_ARITH, 0},
    [BINARY_OP_DECREMENTQ] = {"decrementq", MC_CMD_DECR, SHAPE_ARITH, OPF_QUIET},
    [BINARY_OP_QUIT] = {"quit", MC_CMD_QUIT, SHAPE_EMPTY, 0},
    [BINARY_OP_QUITQ] = {"quitq", MC_CMD_QUIT, SHAPE_EMPTY, OPF_QUIET},
    [BINARY_OP_FLUSH] = {"flush", MC_CMD_FLUSH_ALL, SHAPE_FLUSH, 0},
    [BINARY_OP_FLUSHQ] = {"flushq", MC_CMD_FLUSH_ALL, SHAPE_FLUSH, OPF_QUIET},
    [BINARY_OP_NOOP] = {"noop", MC_CMD_NOOP, SHAPE_EMPTY, 0},
    [BINARY_OP_VERSION] = {"version", MC_CMD_VERSION, SHAPE_EMPTY, 0},
    [BINARY_OP_STAT] = {"stat", MC_CMD_STATS, SHAPE_STAT, 0},
    [BINARY_OP_SASL_LIST_MECHS] = {"sasl_list_mechs", MC_CMD_NONE, SHAPE_SASL_LIST, 0},
    [BINARY_OP_SASL_AUTH] = {"sasl_auth", MC_CMD_NONE, SHAPE_SASL_AUTH, 0},
    [BINARY_OP_SASL_STEP] = {"sasl_step", MC_CMD_NONE, SHAPE_SASL_AUTH, 0},
};

const char *binary_opcode_name(uint8_t opcode)
{
    return opcodes[opcode].name;
}

const char *binary_status_text(uint16_t status)
{
    switch (status) {
    case BINARY_STATUS_KEY_ENOENT:
        return "Not found";
    case BINARY_STATUS_KEY_EEXISTS:
        return "Data exists for key.";
    case BINARY_STATUS_E2BIG:
        return "Too large.";
    case BINARY_STATUS_EINVAL:
        return "Invalid arguments";
    case BINARY_STATUS_NOT_STORED:
        return "Not stored.";
    case BINARY_STATUS_DELTA_BADVAL:
        return "Non-numeric server-side value for incr or decr";
    case BINARY_STATUS_AUTH_ERROR:
        return "Auth failure.";
    case BINARY_STATUS_UNKNOWN_COMMAND:
        return "Unknown command";
    case BINARY_STATUS_ENOMEM:
        return "Out of memory";
    default:
        return "";
    }
}

/* ---- parsing ------------------------------------------------------------- */

/* Does the header fit the opcode's shape? */
static bool shape_ok(enum shape shape, const struct binary_header *h)
{
    uint32_t ext = h->extlen, key = h->keylen, body = h->bodylen;

    switch (shape) {
    case SHAPE_EMPTY:
    case SHAPE_SASL_LIST:
        return ext == 0 && key == 0 && body == 0;
    case SHAPE_KEY:
        return ext == 0 && key > 0 && body == key;
    case SHAPE_STORE:
        return ext == 8 && key > 0; /* body >= ext + key checked already */
    case SHAPE_CONCAT:
    case SHAPE_SASL_AUTH:
        return ext == 0 && key > 0;
    case SHAPE_ARITH:
        return ext == 20 && key > 0 && body == ext + key;
    case SHAPE_TOUCH:
        return ext == 4 && key > 0 && body == ext + key;
    case SHAPE_FLUSH:
        return key == 0 && (ext == 0 || ext == 4) && body == ext;
    case SHAPE_STAT:
        return ext == 0 && body == key;
    case SHAPE_UNKNOWN:
        return true;
    }
    return false;
}

/* Fills the fields every request gets, including error ones. */
static void request_start(struct mc_request *req, const struct binary_header *h)
{
    memset(req, 0, sizeof(*req));
    req->cmd = MC_CMD_NONE;
    req->opcode = h->opcode;
    req->opaque = h->opaque;
}

/*
 * A Stat key, matched as memcached 1.6.45 matches it over the binary
 * protocol (binary_stat_group), becomes the group's name as the text
 * protocol spells it, so the command layer lists groups one way for both.
 * A key memcached does not know over binary (even one text knows, such as
 * "conns") becomes BINARY_STAT_UNKNOWN_NAME, which no group has.
 */
static void stat_args(struct mc_request *req, const char *key, size_t nkey)
{
    static const char *const names[] = {
        [BINARY_STAT_GENERAL] = "",           [BINARY_STAT_RESET] = "reset",
        [BINARY_STAT_SETTINGS] = "settings",  [BINARY_STAT_ITEMS] = "items",
        [BINARY_STAT_SLABS] = "slabs",        [BINARY_STAT_SIZES] = "sizes",
        [BINARY_STAT_DETAIL_ON] = "detail on", [BINARY_STAT_DETAIL_OFF] = "detail off",
        [BINARY_STAT_DETAIL_DUMP] = "detail dump", [BINARY_STAT_UNKNOWN] = BINARY_STAT_UNKNOWN_NAME,
    };
    enum binary_stat_group g = binary_stat_group(key, nkey);
    req->args = g == BINARY_STAT_GENERAL ? NULL : names[g];
    req->args_len = strlen(names[g]);
}

enum proto_status binary_parse(const char *buf, size_t len, struct mc_request *req, size_t *consumed,
                               uint16_t *err_status)
{
    struct binary_header h;
    const struct opcode_info *op;
    const unsigned char *ext;
    size_t need;

    *consumed = 0;
    if (len < BINARY_HEADER_LEN)
        return PROTO_NEED_MORE;
    if ((unsigned char)buf[0] != BINARY_MAGIC_REQUEST) {
        *err_status = 0;
        return PROTO_CLOSE;
    }
    binary_header_decode(buf, &h);
    op = &opcodes[h.opcode];

    /*
     * memcached 1.6.45 reads the extras and key before it looks at the
     * header's lengths; a header whose extras and key cannot fit its 16 KB
     * read buffer closes the connection, silently, once that buffer is full.
     */
    need = (size_t)BINARY_HEADER_LEN + h.extlen + h.keylen;
    if (need > BINARY_HEAD_MAX) {
        if (len < BINARY_HEAD_MAX)
            return PROTO_NEED_MORE;
        *err_status = 0;
        return PROTO_CLOSE;
    }
    if (len < need)
        return PROTO_NEED_MORE;

    /* Then the header's errors, in memcached's order. */
    if (h.bodylen > BINARY_BODY_MAX) {
        request_start(req, &h);
        *err_status = BINARY_STATUS_EINVAL;
        *consumed = BINARY_HEADER_LEN;
        return PROTO_CLOSE;
    }
    if ((uint32_t)h.keylen + h.extlen > h.bodylen) {
        request_start(req, &h);
        *err_status = BINARY_STATUS_UNKNOWN_COMMAND;
        *consumed = BINARY_HEADER_LEN;
        return PROTO_CLOSE;
    }
    if (h.keylen > PROTO_KEY_MAX || !shape_ok(op->shape, &h)) {
        request_start(req, &h);
        *err_status = BINARY_STATUS_EINVAL;
        *consumed = BINARY_HEADER_LEN;
        return PROTO_CLOSE;
    }
    if (op->shape == SHAPE_UNKNOWN || op->shape == SHAPE_SASL_LIST || op->shape == SHAPE_SASL_AUTH) {
        request_start(req, &h);
        req->vlen = h.bodylen - h.extlen - h.keylen;
        if (op->shape == SHAPE_SASL_AUTH) {
            /* the mechanism, for a server with SASL (-S) */
            req->key = buf + BINARY_HEADER_LEN + h.extlen;
            req->nkey = h.keylen;
        }
        *err_status = BINARY_STATUS_UNKNOWN_COMMAND;
        *consumed = need;
        return PROTO_ERROR;
    }

    request_start(req, &h);
    ext = (const unsigned char *)buf + BINARY_HEADER_LEN;
    req->cmd = op->cmd;
    req->quiet = (op->flags & OPF_QUIET) != 0;
    req->return_key = (op->flags & OPF_KEY) != 0;
    req->cas = h.cas;
    req->vlen = h.bodylen - h.extlen - h.keylen;
    if (h.keylen > 0 && op->shape != SHAPE_STAT) {
        req->key = buf + BINARY_HEADER_LEN + h.extlen;
        req->nkey = h.keylen;
    }

    switch (op->shape) {
    case SHAPE_KEY:
        if (op->cmd == MC_CMD_GET) {
            req->keys = req->key;
            req->keys_len = req->nkey;
        }
        break;
    case SHAPE_TOUCH:
        req->exptime = get_u32(ext);
        if (op->cmd == MC_CMD_GAT) {
            req->keys = req->key;
            req->keys_len = req->nkey;
        }
        break;
    case SHAPE_STORE:
        req->flags = get_u32(ext);
        req->exptime = get_u32(ext + 4);
        break;
    case SHAPE_ARITH:
        req->delta = get_u64(ext);
        req->initial = get_u64(ext + 8);
        req->exptime = get_u32(ext + 16);
        req->create = get_u32(ext + 16) != 0xffffffffu;
        break;
    case SHAPE_FLUSH:
        if (h.extlen == 4) {
            req->delay = get_u32(ext);
            req->has_delay = true;
        }
        break;
    case SHAPE_STAT:
        stat_args(req, buf + BINARY_HEADER_LEN, h.keylen);
        break;
    default:
        break;
    }
    *consumed = need;
    return PROTO_OK;
}

static bool key_is(const char *key, size_t nkey, const char *word)
{
    size_t n = strlen(word);
    return nkey == n && memcmp(key, word, n) == 0;
}

static bool key_starts(const char *key, size_t nkey, const char *word)
{
    size_t n = strlen(word);
    return nkey >= n && memcmp(key, word, n) == 0;
}

enum binary_stat_group binary_stat_group(const char *key, size_t nkey)
{
    if (nkey == 0)
        return BINARY_STAT_GENERAL;
    if (key_starts(key, nkey, "reset"))
        return BINARY_STAT_RESET;
    if (key_starts(key, nkey, "settings"))
        return BINARY_STAT_SETTINGS;
    if (key_starts(key, nkey, "detail")) {
        key += 6;
        nkey -= 6;
        if (key_starts(key, nkey, " dump"))
            return BINARY_STAT_DETAIL_DUMP;
        if (key_starts(key, nkey, " on"))
            return BINARY_STAT_DETAIL_ON;
        if (key_starts(key, nkey, " off"))
            return BINARY_STAT_DETAIL_OFF;
        return BINARY_STAT_UNKNOWN;
    }
    if (key_is(key, nkey, "items"))
        return BINARY_STAT_ITEMS;
    if (key_is(key, nkey, "slabs"))
        return BINARY_STAT_SLABS;
    if (key_is(key, nkey, "sizes"))
        return BINARY_STAT_SIZES;
    return BINARY_STAT_UNKNOWN;
}

/* ---- encoding ------------------------------------------------------------ */

static bool is_get_family(const struct mc_request *req)
{
    return req->cmd == MC_CMD_GET || req->cmd == MC_CMD_GAT;
}

bool binary_is_quiet_success(const struct mc_request *req, enum mc_status status)
{
    if (!req->quiet)
        return false;
    if (status == MC_END)
        return true;
    if (is_get_family(req))
        return status == MC_MISS || status == MC_NOT_FOUND;
    switch (status) {
    case MC_OK:
    case MC_STORED:
    case MC_DELETED:
    case MC_TOUCHED:
    case MC_NUMBER:
    case MC_FLUSHED:
        return true;
    default:
        return false;
    }
}

/*
 * Appends one response: header + extras + key (+ body copied) in one copy,
 * then `ref`/`nref` by reference with `owner` (when ref or owner is given).
 * All or nothing.
 */
struct packet {
    uint16_t status;
    uint64_t cas;
    const void *extras;
    uint8_t extlen;
    const char *key;
    size_t nkey;
    const void *body;     /* copied */
    size_t nbody;
    const char *ref;      /* referenced */
    size_t nref;
    void *owner;
    bool has_ref;
};

static int encode_packet(struct reply *r, const struct mc_request *req, const struct packet *pk)
{
    unsigned char hdr[BINARY_HEADER_LEN];
    struct binary_header h;
    size_t total = (size_t)pk->extlen + pk->nkey + pk->nbody + pk->nref;
    size_t ncopy = BINARY_HEADER_LEN + (size_t)pk->extlen + pk->nkey + pk->nbody;

    if (pk->nkey > UINT16_MAX || total > UINT32_MAX)
        return -1;
    h.magic = BINARY_MAGIC_RESPONSE;
    h.opcode = req->opcode;
    h.keylen = (uint16_t)pk->nkey;
    h.extlen = pk->extlen;
    h.datatype = 0;
    h.status = pk->status;
    h.bodylen = (uint32_t)total;
    h.opaque = req->opaque;
    h.cas = pk->cas;
    binary_header_encode(hdr, &h);

    /* one copy (arena pieces merge) plus at most one reference */
    if (reply_ensure(r, 5, ncopy) != 0)
        return -1;
    if (reply_add_copy(r, hdr, sizeof(hdr)) != 0 || reply_add_copy(r, pk->extras, pk->extlen) != 0 ||
        reply_add_copy(r, pk->key, pk->nkey) != 0 || reply_add_copy(r, pk->body, pk->nbody) != 0)
        return -1; /* cannot happen after reply_ensure */
    if (pk->has_ref && reply_add_ref(r, pk->ref, pk->nref, pk->owner) != 0)
        return -1; /* cannot happen after reply_ensure */
    return 0;
}

int binary_encode_error(struct reply *r, const struct mc_request *req, uint16_t status, const char *text)
{
    struct packet pk = {.status = status, .body = text, .nbody = strlen(text)};

    return encode_packet(r, req, &pk);
}

int binary_encode_body(struct reply *r, const struct mc_request *req, uint16_t status, const void *body,
                       size_t n)
{
    struct packet pk = {.status = status, .body = body, .nbody = n};

    return encode_packet(r, req, &pk);
}

int binary_encode_status(struct reply *r, const struct mc_request *req, uint16_t status)
{
    return binary_encode_error(r, req, status, binary_status_text(status));
}

int binary_encode_version(struct reply *r, const struct mc_request *req, const char *version)
{
    struct packet pk = {.body = version, .nbody = strlen(version)};

    return encode_packet(r, req, &pk);
}

int binary_encode_stat(struct reply *r, const struct mc_request *req, const char *name, const char *value)
{
    struct packet pk = {0};

    if (name != NULL) {
        pk.key = name;
        pk.nkey = strlen(name);
    }
    if (value != NULL) {
        pk.body = value;
        pk.nbody = strlen(value);
    }
    return encode_packet(r, req, &pk);
}

/* The key a get-family response carries: the item's, else the request's. */
static void response_key(const struct mc_request *req, const struct mc_result *res, struct packet *pk)
{
    if (!req->return_key)
        return;
    if (res->key != NULL) {
        pk->key = res->key;
        pk->nkey = res->nkey;
    } else {
        pk->key = req->key;
        pk->nkey = req->nkey;
    }
}

int binary_encode_result(struct reply *r, const struct mc_request *req, const struct mc_result *res)
{
    struct packet pk = {0};
    unsigned char buf[8];

    if (res->status == MC_END || binary_is_quiet_success(req, res->status))
        return 0;

    switch (res->status) {
    case MC_VALUE:
        put_u32(buf, res->flags);
        pk.extras = buf;
        pk.extlen = 4;
        pk.cas = res->cas;
        pk.has_ref = true;
        pk.owner = res->owner;
        if (req->cmd == MC_CMD_TOUCH)
            break; /* flags and cas only; the owner rides an empty piece */
        response_key(req, res, &pk);
        pk.ref = res->data;
        pk.nref = res->nbytes;
        break;
    case MC_MISS:
        if (req->return_key) {
            pk.status = BINARY_STATUS_KEY_ENOENT;
            response_key(req, res, &pk);
            break;
        }
        return binary_encode_status(r, req, BINARY_STATUS_KEY_ENOENT);
    case MC_NOT_FOUND:
        if (is_get_family(req) && req->return_key) {
            pk.status = BINARY_STATUS_KEY_ENOENT;
            response_key(req, res, &pk);
            break;
        }
        return binary_encode_status(r, req, BINARY_STATUS_KEY_ENOENT);
    case MC_STORED:
        pk.cas = res->cas;
        break;
    case MC_NOT_STORED:
        if (req->cmd == MC_CMD_ADD)
            return binary_encode_status(r, req, BINARY_STATUS_KEY_EEXISTS);
        if (req->cmd == MC_CMD_REPLACE)
            return binary_encode_status(r, req, BINARY_STATUS_KEY_ENOENT);
        return binary_encode_status(r, req, BINARY_STATUS_NOT_STORED);
    case MC_EXISTS:
        return binary_encode_status(r, req, BINARY_STATUS_KEY_EEXISTS);
    case MC_TOUCHED:
        put_u32(buf, res->flags);
        pk.extras = buf;
        pk.extlen = 4;
        pk.cas = res->cas;
        break;
    case MC_NUMBER:
        put_u64(buf, res->number);
        pk.body = (const char *)buf;
        pk.nbody = 8;
        pk.cas = res->cas;
        break;
    case MC_NON_NUMERIC:
        return binary_encode_status(r, req, BINARY_STATUS_DELTA_BADVAL);
    case MC_INVALID_DELTA:
        return binary_encode_status(r, req, BINARY_STATUS_EINVAL);
    case MC_TOO_LARGE:
        return binary_encode_status(r, req, BINARY_STATUS_E2BIG);
    case MC_NO_MEMORY:
        return binary_encode_status(r, req, BINARY_STATUS_ENOMEM);
    case MC_VERSION:
        pk.body = res->data;
        pk.nbody = res->data != NULL ? res->nbytes : 0;
        break;
    case MC_STATS_END:
    case MC_RESET:
        return binary_encode_stat(r, req, NULL, NULL);
    case MC_DETAIL_DUMP:
        /* memcached sends the dump as one stat, "detailed", then the end */
        if (binary_encode_stat(r, req, "detailed", res->data) != 0)
            return -1;
        return binary_encode_stat(r, req, NULL, NULL);
    case MC_UNKNOWN:
        /* an unknown stats group is "Not found", as memcached answers it */
        return binary_encode_status(r, req, req->cmd == MC_CMD_STATS ? BINARY_STATUS_KEY_ENOENT
                                                                   : BINARY_STATUS_UNKNOWN_COMMAND);
    case MC_CLIENT_ERROR:
        return binary_encode_status(r, req, BINARY_STATUS_EINVAL);
    case MC_ALLOC_FAILED:
        return binary_encode_error(r, req, BINARY_STATUS_ENOMEM, "Out of memory allocating item");
    case MC_FLUSH_DISABLED:
        return binary_encode_status(r, req, BINARY_STATUS_AUTH_ERROR);
    case MC_SHUTDOWN_DISABLED:
    case MC_LINE: /* text-only commands */
    case MC_CONFIG: /* text only */
        return binary_encode_status(r, req, BINARY_STATUS_UNKNOWN_COMMAND);
    case MC_OK:
    case MC_DELETED:
    case MC_FLUSHED:
    case MC_END:
        break;
    }
    return encode_packet(r, req, &pk);
}

/* ---- the encoder table (proto.h) ---- */

const struct mc_encoder binary_encoder = {.result = binary_encode_result, .stat = binary_encode_stat};
