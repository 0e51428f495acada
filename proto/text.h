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

/*
 * Parses one command line from buf[0..len).
 * PROTO_OK: *req filled, *consumed = bytes of the line including "\n".
 * PROTO_NEED_MORE: no complete line yet (*consumed = 0).
 * PROTO_ERROR: reply "ERROR"; *consumed = the line to skip.
 * PROTO_CLIENT_ERROR: reply "CLIENT_ERROR " *errmsg; *consumed = the line to
 *   skip. req->cmd is the command; req->noreply is set when memcached would
 *   stay silent (it had already seen a trailing "noreply"): then send
 *   nothing. NOTHING is to be swallowed after a bad storage header:
 *   memcached 1.6.18 does not swallow (req->vlen is 0), so the data block
 *   is read as the next command line and usually draws "ERROR".
 *   (Swallowing vlen+2 bytes is the server's job only after a well-formed
 *   header that it cannot store: SERVER_ERROR object too large / out of
 *   memory.)
 * PROTO_ERROR is never silenced by noreply.
 * PROTO_CLOSE: an endless line (see the limits above): close the connection;
 *   *consumed = 0.
 * On PROTO_NEED_MORE and PROTO_CLOSE *req and *errmsg are left untouched.
 * A line ends at "\n"; a "\r" before it is dropped; a NUL byte ends it early.
 * See the table at the top of text.c for every rule and its oracle result.
 *
 * Command specifics beyond proto.h's field comments:
 *   get/gets/gat/gats: keys/keys_len (trimmed; may be empty only for
 *     gat/gats); every key was checked against PROTO_KEY_MAX.
 *   gat/gats/touch: exptime. flush_all: has_delay/delay. verbosity: delay =
 *     the level (has_delay true).
 *   stats/shutdown: args = the rest of the line after the command, trimmed
 *     of surrounding spaces (inner runs of spaces kept: split with
 *     text_next_token). shutdown: args_len 0 = now, "graceful" = graceful,
 *     anything else = "CLIENT_ERROR invalid shutdown mode" (and when
 *     shutdown is disabled memcached 1.6.45 replies "SERVER_ERROR: shutdown
 *     not enabled" whatever the args; a last token "noreply" silences both).
 *   exptime/delay are the 32-bit values memcached computes (it truncates:
 *     4294967306 means 10).
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
