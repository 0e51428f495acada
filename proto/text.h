/*
 * text.h - memcached's classic text protocol: parse a command line into a
 * `struct mc_request`, and encode `struct mc_result`s as text replies.
 *
 * Pure functions over byte buffers; no sockets, no store.
 */
#ifndef MCD_TEXT_H
#define MCD_TEXT_H

#include <stddef.h>

#include "proto/proto.h"

struct reply;

/* Longest command line (without its data block) we wait for before giving
 * up; get/gets/gat/gats lines may be longer (many keys), up to
 * TEXT_MULTIGET_LINE_MAX. */
#define TEXT_LINE_MAX 2048
#define TEXT_MULTIGET_LINE_MAX (1024 * 1024)
/* memcached reads into a 16 KB buffer: a line whose "\n" arrives within it
 * is served even when longer than TEXT_LINE_MAX; a non-get line whose "\n"
 * lies at or beyond this offset is treated as endless (PROTO_CLOSE). */
#define TEXT_LINE_BUF_MAX 16384

/* watch: the streams memcached 1.6.45 accepts, as the bits of
 * req->flags ("watch" alone: fetchers). */
#define TEXT_WATCH_FETCHERS    (1u << 0)
#define TEXT_WATCH_MUTATIONS   (1u << 1)
#define TEXT_WATCH_EVICTIONS   (1u << 2)
#define TEXT_WATCH_CONNEVENTS  (1u << 3)
#define TEXT_WATCH_DELETIONS   (1u << 4)
#define TEXT_WATCH_RAWCMDS     (1u << 5)
#define TEXT_WATCH_SYSEVENTS   (1u << 6)
#define TEXT_WATCH_PROXYREQS   (1u << 7)
#define TEXT_WATCH_PROXYEVENTS (1u << 8)
#define TEXT_WATCH_PROXYUSER   (1u << 9)

/*
 * Parses one command line from buf[0..len).
 * PROTO_OK: *req filled, *consumed = bytes of the line including "\n".
 * PROTO_NEED_MORE: no complete line yet (*consumed = 0).
 * PROTO_ERROR: *consumed = the line to skip (see below for the reply).
 * PROTO_CLIENT_ERROR: reply "CLIENT_ERROR " *errmsg; *consumed = the line to
 *   skip. req->cmd is the command (MC_CMD_NONE for a line under 2 bytes);
 *   req->noreply is set when memcached stays silent (a trailing "noreply"):
 *   then send nothing. req->vlen is the number of bytes to swallow after
 *   the line: a storage header whose length parsed but that is otherwise
 *   bad has its data block skipped (length + 2), as memcached 1.6.45 does;
 *   0 for every other error.
 * PROTO_ERROR: reply "ERROR", unless req->noreply (a trailing "noreply"
 *   silences it, as in memcached 1.6.45; never for stats).
 * PROTO_CLOSE: an endless line (see the limits above), or an HTTP request
 *   line ("GET / HTTP/1.0"): close the connection; *consumed = 0.
 * On PROTO_NEED_MORE *req and *errmsg are left untouched.
 * A line ends at "\n"; a "\r" before it is dropped; a NUL byte ends it early.
 * See the table at the top of text.c for every rule and its oracle result.
 *
 * Command specifics beyond proto.h's field comments:
 *   get/gets/gat/gats: keys/keys_len (trimmed; never empty);
 *     every key was checked against PROTO_KEY_MAX.
 *   gat/gats/touch: exptime. flush_all: has_delay/delay; a delay that
 *     does not parse comes back as PROTO_OK with args/args_len = that token:
 *     answer "CLIENT_ERROR invalid exptime argument" (unless noreply), but
 *     only after the -F check, as memcached. verbosity: delay =
 *     the level (has_delay true).
 *   stats/shutdown: args = the rest of the line after the command, trimmed
 *     of surrounding spaces (inner runs of spaces kept: split with
 *     text_next_token). shutdown: args_len 0 = now, "graceful" = graceful,
 *     anything else = "CLIENT_ERROR invalid shutdown mode" (and when
 *     shutdown is disabled memcached 1.6.45 replies "SERVER_ERROR: shutdown not enabled"
 *     whatever the args).
 *   slabs: "slabs automove N": delay = N (0..2).
 *   watch: flags = the TEXT_WATCH_* bits of the streams named (none
 *     named: fetchers); 0 when a name is unknown (noreply included): answer
 *     "ERROR", never silenced (but with -W "CLIENT_ERROR watch commands not
 *     allowed" comes first, as memcached).
 *   exptime of storage commands is the 32-bit value memcached computes (it
 *     truncates: 4294967306 means 10); touch/gat/flush_all reject values
 *     outside int32.
 */
enum proto_status text_parse(const char *buf, size_t len, struct mc_request *req, size_t *consumed,
                             const char **errmsg);

/*
 * Iterates the keys of a get-family request. *pos starts at 0. Returns
 * true with the next key in *key and its length in *nkey, false at the end.
 */
bool text_next_key(const struct mc_request *req, size_t *pos, const char **key, size_t *nkey);

/* The same over any (s, len): the next run of non-space bytes from *pos. */
bool text_next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *ntok);

/* The text protocol's table for the command layer (proto.h). */
extern const struct mc_encoder text_encoder;

/* Appends the text reply for one result of request `cmd` (e.g. "STORED\r\n",
 * or "VALUE k f n [cas]\r\n<data>\r\n" with the data referenced). Returns 0 or
 * -1 when out of memory (the owner, if any, is then not consumed). */
int text_encode_result(struct reply *r, enum mc_cmd cmd, const struct mc_result *res);

/* "VERSION <version>\r\n". text_encode_result(MC_VERSION) uses res->data /
 * res->nbytes as the version string when data is set, else PACKAGE_VERSION. */
int text_encode_version(struct reply *r, const char *version);

/* "CLIENT_ERROR <msg>\r\n" / "SERVER_ERROR <msg>\r\n" / "ERROR\r\n" */
int text_encode_client_error(struct reply *r, const char *msg);
int text_encode_server_error(struct reply *r, const char *msg);
int text_encode_error(struct reply *r);
/* "STAT <name> <value>\r\n" */
int text_encode_stat(struct reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* MCD_TEXT_H */
