/*
 * proto.h - the protocol-neutral request and result that the text and
 * binary front ends parse into and encode from, and the table through
 * which each supplies its encoder (meta commands have their own, meta.h).
 *
 * A parser turns bytes into a `struct mc_request`; server/process.c executes
 * it against the store and hands each outcome, as a `struct mc_result`, to
 * the front end's encoder, which appends the reply to a `struct reply`
 * (proto/reply.h). Nothing in proto/ touches a socket, the store or libevent:
 * requests point into the caller's read buffer and are valid only until the
 * caller consumes those bytes.
 */
#ifndef MCD_PROTO_H
#define MCD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_MAX 250

/* Every command the front ends know, in one table: its name (for logging
 * and stats) and its kind (which commands share a parser and an executor). */
#define MC_COMMANDS(X) \
    X(NONE, "none", OTHER) \
    X(GET, "get", GET) X(GETS, "gets", GET) X(GAT, "gat", GET) X(GATS, "gats", GET) \
    X(SET, "set", STORE) X(ADD, "add", STORE) X(REPLACE, "replace", STORE) X(APPEND, "append", STORE) \
    X(PREPEND, "prepend", STORE) X(CAS, "cas", STORE) \
    X(DELETE, "delete", OTHER) X(INCR, "incr", ARITH) X(DECR, "decr", ARITH) X(TOUCH, "touch", OTHER) \
    X(FLUSH_ALL, "flush_all", OTHER) X(STATS, "stats", OTHER) X(VERSION, "version", OTHER) \
    X(VERBOSITY, "verbosity", OTHER) X(QUIT, "quit", OTHER) X(SHUTDOWN, "shutdown", OTHER) \
    X(NOOP, "noop", OTHER) X(SLABS, "slabs", OTHER) \
    X(LRU_CRAWLER, "lru_crawler", OTHER) \
    X(FLUSH_PREFIX, "flush_prefix", OTHER) X(CONFIG, "config", OTHER) \
    X(WATCH, "watch", OTHER) \
    X(CACHE_MEMLIMIT, "cache_memlimit", OTHER)

enum mc_cmd {
#define X(id, name, kind) MC_CMD_##id,
    MC_COMMANDS(X)
#undef X
    MC_CMD__COUNT
};

enum mc_cmd_kind {
    MC_KIND_GET,         /* get gets gat gats: a key list, one outcome per key, then END */
    MC_KIND_STORE,       /* set add replace append prepend cas: a value follows */
    MC_KIND_ARITH,       /* incr decr */
    MC_KIND_OTHER,
};

/* The kind of a command (MC_KIND_OTHER for anything out of range). */
enum mc_cmd_kind mc_cmd_kind(enum mc_cmd cmd);

/* The name of a command, e.g. "get". */
const char *mc_cmd_name(enum mc_cmd cmd);

enum proto_status {
    PROTO_OK = 0,        /* one request parsed; *consumed bytes used */
    PROTO_NEED_MORE,     /* no complete request yet: read more, call again */
    PROTO_ERROR,         /* unknown command: reply "ERROR" */
    PROTO_CLIENT_ERROR,  /* malformed: reply "CLIENT_ERROR <msg>" */
    PROTO_CLOSE,         /* unrecoverable (e.g. endless line): close the connection */
};

/*
 * A parsed request. Pointers point into the buffer given to the parser.
 * Storage commands (set/add/replace/append/prepend/cas) announce `vlen`
 * value bytes that follow the command line, plus a 2-byte "\r\n" terminator;
 * the parser does not consume them: the caller streams them into the item.
 */
struct mc_request {
    enum mc_cmd cmd;
    const char *key;      /* single-key commands */
    size_t nkey;
    const char *keys;     /* get/gets/gat/gats: the space-separated key list */
    size_t keys_len;
    uint32_t flags;       /* client flags (storage commands) */
    int64_t exptime;      /* as the client sent it; the store converts */
    uint32_t vlen;        /* value bytes following the line (storage) */
    uint64_t cas;         /* cas command: the unique to compare */
    uint64_t delta;       /* incr/decr */
    int64_t delay;        /* flush_all delay; verbosity level */
    bool has_delay;
    bool noreply;
    const char *args;     /* stats: the argument ("items", "slabs", ...) */
    size_t args_len;
    /* binary protocol (and later meta) */
    uint8_t opcode;       /* binary: the request opcode, echoed in the reply */
    uint32_t opaque;      /* binary: echoed in the reply */
    bool quiet;           /* binary: a Q opcode (no reply on success / miss) */
    bool return_key;      /* binary: a K opcode (GetK: the reply carries the key) */
    uint64_t initial;     /* incr/decr: value to create a missing key with */
    bool create;          /* incr/decr: create a missing key with `initial` */
    /* slabs reassign SRC DST (the automove mode is in `delay`) */
    bool reassign;
    int64_t slab_src, slab_dst;
};

/* What executing a request (or one key of a multi-key get) produced. */
enum mc_status {
    MC_OK = 0,           /* stored / deleted / touched / value found ... */
    MC_STORED,
    MC_NOT_STORED,
    MC_EXISTS,
    MC_NOT_FOUND,
    MC_DELETED,
    MC_TOUCHED,
    MC_MISS,             /* get family: key not found (text: nothing printed) */
    MC_VALUE,            /* get family: a hit, see mc_result item fields */
    MC_NUMBER,           /* incr/decr result in `number` */
    MC_NON_NUMERIC,      /* incr/decr on a non-number */
    MC_INVALID_DELTA,    /* incr/decr delta not a number */
    MC_TOO_LARGE,        /* value over -I */
    MC_NO_MEMORY,        /* -M and full */
    MC_END,              /* end of a get */
    MC_FLUSHED,          /* flush_all: "OK" */
    MC_VERSION,          /* the version string in data/nbytes */
    MC_STATS_END,        /* the end of a stats listing */
    MC_RESET,            /* stats reset done */
    MC_DETAIL_DUMP,      /* stats detail dump: its text in data/nbytes (NUL-terminated) */
    MC_UNKNOWN,          /* no such command, or no such stats group */
    MC_CLIENT_ERROR,     /* the request is refused: the message in data (NUL-terminated) */
    MC_ALLOC_FAILED,     /* a storage command could not get memory for its item */
    MC_FLUSH_DISABLED,   /* flush_all under -F */
    MC_SHUTDOWN_DISABLED, /* shutdown without -A */
    MC_CONFIG,           /* config get cluster: the config's body in data/nbytes */
    MC_LINE,             /* a whole reply line in data (NUL-terminated): slabs reassign,
                            cache_memlimit (BUSY ..., MEMLIMIT_TOO_SMALL ...) */
};

struct mc_result {
    enum mc_status status;
    /* MC_VALUE: the item's fields; `data` stays valid while `owner` is held */
    const char *key;
    size_t nkey;
    uint32_t flags;
    const char *data;
    uint32_t nbytes;
    uint64_t cas;
    void *owner;          /* passed to reply_add_ref(); released when sent */
    /* MC_NUMBER */
    uint64_t number;
};

/*
 * Iterates the keys a request names. *pos starts at 0. A request with one
 * key (`key` set: binary keys may hold spaces) yields it once; a key list
 * (`keys`: text get/gets/gat/gats) yields each space-separated key. True
 * with the next key in *key / *nkey, false at the end.
 */
bool mc_request_next_key(const struct mc_request *req, size_t *pos, const char **key, size_t *nkey);

struct reply;

/*
 * How one protocol words the outcomes of classic requests: the command
 * layer (server/process.c) hands every outcome to the table of the
 * connection's protocol (text_encoder, binary_encoder) and never asks which
 * one it is. Both return 0, or -1 when out of memory with nothing appended
 * and res->owner not consumed (the caller then drops the connection).
 *
 * result: one outcome of `req` (see text.h and binary.h for the bytes; an
 *   encoder appends nothing where its protocol says nothing, e.g. text for
 *   MC_MISS and for quit, binary for MC_END and quiet successes).
 * stat:   one line of a stats listing.
 */
struct mc_encoder {
    int (*result)(struct reply *r, const struct mc_request *req, const struct mc_result *res);
    int (*stat)(struct reply *r, const struct mc_request *req, const char *name, const char *value);
};

#endif /* MCD_PROTO_H */
