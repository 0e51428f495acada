/*
 * session_auth.h - the session's side of authentication: what a connection
 * that must authenticate (-Y on text, -S on binary) does with its input
 * before and around the handshake. Called from session.c's parse step
 * only when the session is not yet authenticated or, under -S, for the
 * SASL opcodes; nothing here runs for a server without -S or -Y.
 */
#ifndef MCD_SESSION_AUTH_H
#define MCD_SESSION_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

struct session;

/* What a new session needs (set by session_init from the settings). */
enum session_auth {
    SESSION_AUTH_OPEN = 0,   /* no auth configured, or authenticated */
    SESSION_AUTH_ASCII,      /* -Y: the `set ... user pass` handshake first */
    SESSION_AUTH_SASL,       /* -S: a SASL exchange first */
};

/*
 * A text session under -Y before its handshake: takes the next step from
 * the read buffer. PROTO_NEED_MORE; PROTO_CLOSE (close now, no reply); or
 * PROTO_ERROR with the reply queued and *consumed bytes used (the caller
 * skips them and goes on; s->close_after_write may be set).
 */
enum proto_status session_auth_text(struct session *s, size_t *consumed);

/*
 * A binary request just parsed (*ps, err and *consumed as binary_parse()
 * returned and set them) on a session under -S or not yet authenticated:
 * the SASL opcodes are answered here, and anything but Version before
 * authentication is refused (0x20 "Auth failure.", then close). Returns
 * false when the request goes on as usual; true when it was handled here:
 * *ps is then PROTO_NEED_MORE (wait for the rest of a SASL body) or
 * PROTO_ERROR (reply queued; the caller skips *consumed bytes, then
 * s->swallow_left more).
 */
bool session_auth_binary(struct session *s, enum proto_status *ps, uint16_t err, size_t len, size_t *consumed);

/* Releases what the session's auth holds (its SASL context). */
void session_auth_deinit(struct session *s);

#endif /* MCD_SESSION_AUTH_H */
