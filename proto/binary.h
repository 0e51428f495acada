/*
 * binary.h - memcached's binary protocol: wire definitions, a request
 * decoder into `struct mc_request`, and encoders that append responses to a
 * `struct reply`.
 *
 * Pure functions over byte buffers: no sockets, no store, no libevent, no
 * global state; safe to call from any thread on distinct buffers.
 *
 * Packet layout (requests and responses alike; all integers big-endian):
 *
 *   byte 0        1        2        3
 *      +--------+--------+--------+--------+
 *    0 | magic  | opcode |   key length    |
 *      +--------+--------+--------+--------+
 *    4 | extlen |datatype| vbucket / status|
 *      +--------+--------+--------+--------+
 *    8 |        total body length          |
 *      +--------+--------+--------+--------+
 *   12 |        opaque (echoed)            |
 *      +--------+--------+--------+--------+
 *   16 |        cas (64 bits)              |
 *   20 |                                   |
 *      +--------+--------+--------+--------+
 *   24 | extras (extlen) | key (keylen) | value (bodylen - extlen - keylen)
 *
 * ---------------------------------------------------------------------------
 * THE CALLER'S CONTRACT (server/conn.c and server/process.c)
 *
 * binary_parse() returns one of:
 *
 *   PROTO_NEED_MORE  Not enough bytes yet. *consumed = 0; *req and
 *                    *err_status are untouched. Read more and call again
 *                    with the same (grown) buffer.
 *
 *   PROTO_OK         *req is filled. *consumed = 24 + extlen + keylen (the
 *                    header, extras and key: never the value).
 *                    req->vlen = the value bytes that FOLLOW *consumed and
 *                    belong to this packet. Only the storage opcodes (Set,
 *                    Add, Replace, Append, Prepend and their Q forms) can
 *                    have vlen > 0; the caller streams exactly vlen bytes into
 *                    the item, or swallows them when it refuses the value
 *                    (too large -> BINARY_STATUS_E2BIG, no memory ->
 *                    BINARY_STATUS_ENOMEM, as memcached does). No trailing
 *                    "\r\n" exists in the binary protocol. For every other
 *                    opcode vlen is 0 and the whole packet is consumed.
 *                    req->key points into buf: valid until the caller drops
 *                    those bytes (so copy/hash it before reusing the buffer).
 *
 *   PROTO_ERROR      Unknown opcode (including SASL and every opcode
 *                    memcached 1.6 lacks): *err_status = 0x81. *consumed =
 *                    24 + extlen + keylen (buffered) and req->vlen = the
 *                    rest of the body, which the caller must skip (it may be
 *                    larger than what is buffered, up to 1 GiB; swallow it
 *                    as it arrives).
 *                    Reply binary_encode_status(r, req, *err_status); the
 *                    connection stays open. req->cmd is MC_CMD_NONE,
 *                    req->opcode/opaque are set for the reply; for SASL
 *                    auth/step, req->key/nkey is the mechanism (read by a
 *                    server with -S, server/sasl.c).
 *
 *   PROTO_CLOSE      The connection must close. If *err_status != 0, first
 *                    queue binary_encode_status(r, req, *err_status) (req has
 *                    opcode/opaque set) and close once it is written
 *                    ("close after write", as memcached does for every
 *                    malformed header: 0x04 Invalid arguments for a bad
 *                    shape, a key over 250 bytes or a body over
 *                    BINARY_BODY_MAX, 0x81 Unknown command
 *                    when extlen + keylen > bodylen). If *err_status == 0
 *                    (wrong magic byte), close at once without a reply;
 *                    *consumed = 0 and *req is untouched in that case,
 *                    otherwise *consumed = 24.
 *
 *   PROTO_CLIENT_ERROR is never returned: memcached 1.6 has no "reply an
 *                    error and keep reading" path for a malformed header.
 *
 * Nothing is decided, errors included, before the 24-byte header, the
 * extras and the key are buffered (memcached 1.6.45 reads them first); a
 * value is never waited for. When header + extras + key exceed
 * BINARY_HEAD_MAX, PROTO_CLOSE without a reply once that many bytes are
 * buffered.
 *
 * Quiet opcodes (req->quiet): binary_encode_result() itself drops what a
 * quiet opcode suppresses, and binary_is_quiet_success() tells which those
 * are, following memcached 1.6:
 *   - GetQ, GetKQ, GATQ, GATKQ: a miss (MC_MISS / MC_NOT_FOUND) is silent;
 *     a hit IS sent.
 *   - SetQ, AddQ, ReplaceQ, AppendQ, PrependQ, DeleteQ, IncrementQ,
 *     DecrementQ, FlushQ, QuitQ: success (MC_STORED, MC_DELETED, MC_NUMBER,
 *     MC_OK, MC_FLUSHED, MC_TOUCHED) is silent.
 *   - Errors are always sent, for every opcode (binary_encode_status never
 *     suppresses anything).
 * The command layer still owns the rest: Noop (and any non-quiet command)
 * should flush the pipelined replies; Quit/QuitQ close after the (possibly
 * empty) reply is written.
 *
 * req->noreply is always false for binary requests: quiet is NOT noreply.
 * ---------------------------------------------------------------------------
 */
#ifndef MCD_BINARY_H
#define MCD_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

struct reply;

#define BINARY_MAGIC_REQUEST 0x80
#define BINARY_MAGIC_RESPONSE 0x81
#define BINARY_HEADER_LEN 24
/* Largest body length memcached 1.6.45 accepts (1 GiB, whatever -I is):
 * above it, 0x04 "Invalid arguments" and close. */
#define BINARY_BODY_MAX (1024u * 1024u * 1024u)
/* Largest header + extras + key memcached 1.6.45 buffers (its read buffer):
 * a request that needs more is closed without a reply. */
#define BINARY_HEAD_MAX (16u * 1024u)
/* Largest extras any opcode carries (Increment/Decrement). */
#define BINARY_EXTRAS_MAX 20

/* Request opcodes. The SASL ones are known by name but answered as unknown. */
enum binary_opcode {
    BINARY_OP_GET = 0x00,
    BINARY_OP_SET = 0x01,
    BINARY_OP_ADD = 0x02,
    BINARY_OP_REPLACE = 0x03,
    BINARY_OP_DELETE = 0x04,
    BINARY_OP_INCREMENT = 0x05,
    BINARY_OP_DECREMENT = 0x06,
    BINARY_OP_QUIT = 0x07,
    BINARY_OP_FLUSH = 0x08,
    BINARY_OP_GETQ = 0x09,
    BINARY_OP_NOOP = 0x0a,
    BINARY_OP_VERSION = 0x0b,
    BINARY_OP_GETK = 0x0c,
    BINARY_OP_GETKQ = 0x0d,
    BINARY_OP_APPEND = 0x0e,
    BINARY_OP_PREPEND = 0x0f,
    BINARY_OP_STAT = 0x10,
    BINARY_OP_SETQ = 0x11,
    BINARY_OP_ADDQ = 0x12,
    BINARY_OP_REPLACEQ = 0x13,
    BINARY_OP_DELETEQ = 0x14,
    BINARY_OP_INCREMENTQ = 0x15,
    BINARY_OP_DECREMENTQ = 0x16,
    BINARY_OP_QUITQ = 0x17,
    BINARY_OP_FLUSHQ = 0x18,
    BINARY_OP_APPENDQ = 0x19,
    BINARY_OP_PREPENDQ = 0x1a,
    BINARY_OP_VERBOSITY = 0x1b,   /* not in memcached 1.6: unknown command */
    BINARY_OP_TOUCH = 0x1c,
    BINARY_OP_GAT = 0x1d,
    BINARY_OP_GATQ = 0x1e,
    BINARY_OP_SASL_LIST_MECHS = 0x20,
    BINARY_OP_SASL_AUTH = 0x21,
    BINARY_OP_SASL_STEP = 0x22,
    BINARY_OP_GATK = 0x23,
    BINARY_OP_GATKQ = 0x24,
};

/* Response status codes (the header's vbucket field in a response). */
enum binary_status {
    BINARY_STATUS_OK = 0x00,
    BINARY_STATUS_KEY_ENOENT = 0x01,     /* "Not found" */
    BINARY_STATUS_KEY_EEXISTS = 0x02,    /* "Data exists for key." */
    BINARY_STATUS_E2BIG = 0x03,          /* "Too large." */
    BINARY_STATUS_EINVAL = 0x04,         /* "Invalid arguments" */
    BINARY_STATUS_NOT_STORED = 0x05,     /* "Not stored." */
    BINARY_STATUS_DELTA_BADVAL = 0x06,   /* "Non-numeric server-side value for incr or decr" */
    BINARY_STATUS_AUTH_ERROR = 0x20,     /* "Auth failure." (also: flush_all disabled) */
    BINARY_STATUS_AUTH_CONTINUE = 0x21,
    BINARY_STATUS_UNKNOWN_COMMAND = 0x81,/* "Unknown command" */
    BINARY_STATUS_ENOMEM = 0x82,         /* "Out of memory" */
};

/* A decoded header, host byte order. `status` is the vbucket in a request. */
struct binary_header {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t status;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
};

/* Decodes / encodes the 24 bytes at buf (no validation). */
void binary_header_decode(const void *buf, struct binary_header *h);
void binary_header_encode(void *buf, const struct binary_header *h);

/* The opcode's name ("get", "getkq", "sasl_auth", ...), or NULL when
 * memcached has no such opcode. */
const char *binary_opcode_name(uint8_t opcode);

/* memcached's text body for an error status ("Not found", ...); "" for
 * success and for codes memcached never sends with a body. */
const char *binary_status_text(uint16_t status);

/*
 * Parses one request from buf[0..len). See the contract at the top of this
 * file for each return value, *consumed, req->vlen and *err_status.
 *
 * PROTO_OK fills, by opcode family:
 *   Get/GetQ/GetK/GetKQ   MC_CMD_GET; key in key/nkey AND keys/keys_len
 *                         (one key: binary keys may hold spaces, so never
 *                         tokenize `keys` for a binary request).
 *   GAT/GATQ/GATK/GATKQ   MC_CMD_GAT; exptime; key as for Get.
 *   Touch                 MC_CMD_TOUCH; exptime; key.
 *   Set/Add/Replace(+Q)   MC_CMD_SET/ADD/REPLACE; flags, exptime, vlen, and
 *                         cas = header cas (non-zero: compare-and-swap; note
 *                         memcached also turns Add/Replace with a cas into
 *                         a compare-and-swap).
 *   Append/Prepend(+Q)    MC_CMD_APPEND/PREPEND; vlen; cas = header cas.
 *   Delete(Q)             MC_CMD_DELETE; cas = header cas.
 *   Increment/Decrement(Q) MC_CMD_INCR/DECR; delta, initial, exptime,
 *                         create = (exptime != 0xffffffff); cas = header cas.
 *   Flush(Q)              MC_CMD_FLUSH_ALL; has_delay and delay when the
 *                         optional 4-byte extras are present.
 *   Noop / Version / Quit(Q)  MC_CMD_NOOP / MC_CMD_VERSION / MC_CMD_QUIT.
 *   Stat                  MC_CMD_STATS; args/args_len = the group the key asks
 *                         for, as the text protocol names it ("settings",
 *                         "detail on", ...; NULL/0 for the general stats;
 *                         BINARY_STAT_UNKNOWN_NAME when memcached knows no
 *                         such group over binary): see binary_stat_group().
 * Always: opcode, opaque, quiet, return_key (GetK, GetKQ, GATK, GATKQ).
 * exptime is the unsigned 32-bit value as sent.
 */
enum proto_status binary_parse(const char *buf, size_t len, struct mc_request *req, size_t *consumed,
                               uint16_t *err_status);

/*
 * True when `status` for this quiet request produces no response (see the
 * contract above). Always false for a non-quiet request.
 */
bool binary_is_quiet_success(const struct mc_request *req, enum mc_status status);

/*
 * Appends the response for one result of `req` (its opcode decides the
 * shape); appends nothing when binary_is_quiet_success() or for MC_END.
 * All or nothing: returns 0, or -1 when out of memory with nothing appended
 * and res->owner NOT consumed.
 *
 * On 0, res->owner (when not NULL) has been handed to the reply for
 * MC_VALUE: the value is referenced (never copied) and the owner released
 * once it is sent. For MC_VALUE on Touch (no value in the response) the
 * owner is handed over all the same, on an empty piece. For every other
 * status the owner is ignored: the caller keeps it.
 *
 * Mapping (status -> response), confirmed against memcached 1.6.45:
 *   MC_VALUE        0, extras = flags (4 bytes), key if req->return_key
 *                   (res->key, or req->key when res->key is NULL), value =
 *                   res->data/nbytes by reference, cas = res->cas.
 *                   Touch: extras = flags, no key, no value.
 *   MC_MISS, and MC_NOT_FOUND on a get/GAT opcode:
 *                   1; body "Not found", or, when req->return_key, the key
 *                   as the key and no text (GetK/GATK).
 *   MC_STORED       0, cas = res->cas.
 *   MC_NOT_STORED   Add(Q): 2 "Data exists for key."; Replace(Q): 1 "Not
 *                   found"; anything else: 5 "Not stored.".
 *   MC_EXISTS       2 "Data exists for key."
 *   MC_NOT_FOUND    1 "Not found"
 *   MC_DELETED      0, cas 0.
 *   MC_TOUCHED      0, extras = res->flags, cas = res->cas (Touch's reply
 *                   carries the item's flags and cas: fill them).
 *   MC_NUMBER       0, body = res->number as 8 bytes big-endian, cas =
 *                   res->cas.
 *   MC_NON_NUMERIC  6 "Non-numeric server-side value for incr or decr"
 *   MC_INVALID_DELTA 4 "Invalid arguments" (cannot come from binary input)
 *   MC_TOO_LARGE    3 "Too large."
 *   MC_NO_MEMORY    0x82 "Out of memory"
 *   MC_OK, MC_FLUSHED 0, empty.
 *   MC_VERSION      0, body = res->data/nbytes (copied); see also
 *                   binary_encode_version().
 *   MC_END          nothing (the binary protocol has no end marker).
 *   MC_STATS_END, MC_RESET  the empty stat that ends a listing.
 *   MC_DETAIL_DUMP  a stat "detailed" carrying res->data, then the end.
 *   MC_UNKNOWN      Stat: 1 "Not found"; anything else: 0x81.
 *   MC_CLIENT_ERROR 4 "Invalid arguments".
 *   MC_ALLOC_FAILED 0x82 "Out of memory allocating item".
 *   MC_FLUSH_DISABLED 0x20 (auth error), as memcached under -F.
 *   MC_SHUTDOWN_DISABLED 0x81 "Unknown command".
 */
int binary_encode_result(struct reply *r, const struct mc_request *req, const struct mc_result *res);

/* Appends an error (or any status) response: no extras, no key, cas 0,
 * body = binary_status_text(status). Never suppressed by quiet. 0 or -1. */
int binary_encode_status(struct reply *r, const struct mc_request *req, uint16_t status);

/* The same with a body of the caller's choosing: memcached words one error
 * by where it happened (a storage command's failed allocation is 0x82 "Out
 * of memory allocating item", any other 0x82 is "Out of memory"). */
int binary_encode_error(struct reply *r, const struct mc_request *req, uint16_t status, const char *text);

/* The same with a body of any bytes (a SASL challenge, the mechanism list). */
int binary_encode_body(struct reply *r, const struct mc_request *req, uint16_t status, const void *body,
                       size_t n);

/* Appends a success response whose body is the version string. 0 or -1. */
int binary_encode_version(struct reply *r, const struct mc_request *req, const char *version);

/*
 * What a Stat request's key asks for, matched as memcached 1.6.45 does over
 * the binary protocol: "reset", "settings" and "detail" are prefixes
 * ("reset x" resets, "settings " lists the settings), "items", "slabs" and
 * "sizes" must be exact ("items " is unknown), "detail" must go on with
 * " on", " off" or " dump" (prefixes again), and everything else
 * (including "conns") is unknown: 0x01 "Not found".
 */
enum binary_stat_group {
    BINARY_STAT_GENERAL,     /* empty key */
    BINARY_STAT_RESET,
    BINARY_STAT_SETTINGS,
    BINARY_STAT_ITEMS,
    BINARY_STAT_SLABS,
    BINARY_STAT_SIZES,
    BINARY_STAT_DETAIL_ON,
    BINARY_STAT_DETAIL_OFF,
    BINARY_STAT_DETAIL_DUMP,
    BINARY_STAT_UNKNOWN,
};
enum binary_stat_group binary_stat_group(const char *key, size_t nkey);
/* What binary_parse() puts in req->args for a Stat key of BINARY_STAT_UNKNOWN. */
#define BINARY_STAT_UNKNOWN_NAME "(unknown)"

/* The binary protocol's table for the command layer (proto.h). */
extern const struct mc_encoder binary_encoder;

/* Appends one stat packet: key = name, value = value (both copied).
 * binary_encode_stat(r, req, NULL, NULL) appends the terminator (empty key
 * and value). 0 or -1 (nothing appended). */
int binary_encode_stat(struct reply *r, const struct mc_request *req, const char *name, const char *value);

#endif /* MCD_BINARY_H */
