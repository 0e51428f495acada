/*
 * session_auth.c - authentication on a session's input (see
 * session_auth.h): the -Y text handshake and the -S SASL opcodes, with
 * memcached 1.6.45's replies, counted in auth_cmds / auth_errors.
 */
#include "config.h"

#include "server/session_auth.h"

#include "proto/binary.h"
#include "proto/reply.h"
#include "proto/text.h"
#include "server/auth_file.h"
#include "server/sasl.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/worker.h"

#include <string.h>

static void count(struct session *s, bool ok)
{
    if (s->cmd.ws == NULL)
        return;
    STAT_INC(s->cmd.ws->auth_cmds);
    if (!ok)
        STAT_INC(s->cmd.ws->auth_errors);
}

enum proto_status session_auth_text(struct session *s, size_t *consumed)
{
    struct auth_token tok;
    enum auth_step step = auth_line_parse(s->rbuf + s->rpos, s->rlen - s->rpos, consumed, &tok);
    bool ok = false;

    switch (step) {
    case AUTH_NEED_MORE: return PROTO_NEED_MORE;
    case AUTH_CLOSE: return PROTO_CLOSE;
    case AUTH_TOKEN:
        ok = auth_file_check(tok.user, tok.ulen, tok.pass, tok.plen);
        count(s, ok);
        if (ok)
            s->auth = SESSION_AUTH_OPEN;
        break;
    default: break;
    }
    char line[64];
    snprintf(line, sizeof(line), "%s\r\n", auth_step_reply(step, ok));
    if (reply_add_copy(&s->out, line, strlen(line)) != 0)
        s->close_after_write = true;
    return PROTO_ERROR;
}

static bool is_sasl_opcode(uint8_t op)
{
    return op == BINARY_OP_SASL_LIST_MECHS || op == BINARY_OP_SASL_AUTH || op == BINARY_OP_SASL_STEP;
}

/* The body length of the header at p (24 bytes there). */
static uint32_t binary_body_length(const char *p)
{
    struct binary_header h;
    binary_header_decode(p, &h);
    return h.bodylen;
}

/* A SASL body no larger than this is buffered whole and handed to Cyrus;
 * a larger one is answered 0x82 and skipped, as memcached answers a body
 * its item allocation cannot hold (its limit is -I, less an item header). */
static size_t sasl_body_max(void)
{
    size_t lim = settings.item_size_max > 64 ? settings.item_size_max - 64 : 0;
    size_t buf = TEXT_MULTIGET_LINE_MAX - BINARY_HEAD_MAX;
    return lim < buf ? lim : buf;
}

static enum proto_status sasl_request(struct session *s, size_t len, size_t *consumed)
{
    const struct mc_request *req = &s->req.mc;
    uint16_t status = BINARY_STATUS_OK;
    const char *body = NULL;
    size_t nbody = 0;

    if (req->opcode == BINARY_OP_SASL_LIST_MECHS) {
        if (mcd_sasl_list_mechs(&s->sasl, &body, &nbody) != 0)
            status = BINARY_STATUS_AUTH_ERROR;
    } else if (req->nkey > MCD_SASL_MECH_MAX || req->vlen > sasl_body_max()) {
        status = req->nkey > MCD_SASL_MECH_MAX ? BINARY_STATUS_EINVAL : BINARY_STATUS_ENOMEM;
        s->swallow_left = req->vlen;
    } else {
        if (len - *consumed < req->vlen) {
            *consumed = 0;
            return PROTO_NEED_MORE;
        }
        const char *data = s->rbuf + s->rpos + *consumed;
        /* a new exchange (or a failed one) leaves the connection unauthenticated */
        s->auth = SESSION_AUTH_SASL;
        switch (mcd_sasl_auth(&s->sasl, req->opcode == BINARY_OP_SASL_STEP, req->key, req->nkey, data,
                              req->vlen, &body, &nbody)) {
        case MCD_SASL_OK:
            s->auth = SESSION_AUTH_OPEN;
            body = "Authenticated";
            nbody = strlen(body);
            count(s, true);
            break;
        case MCD_SASL_CONTINUE:
            status = BINARY_STATUS_AUTH_CONTINUE;
            break;
        case MCD_SASL_FAIL:
            status = BINARY_STATUS_AUTH_ERROR;
            body = NULL;
            count(s, false);
            break;
        }
        *consumed += req->vlen;
    }
    int rc = body != NULL ? binary_encode_body(&s->out, req, status, body, nbody)
                          : binary_encode_status(&s->out, req, status);
    if (rc != 0)
        s->close_after_write = true;
    return PROTO_ERROR;
}

bool session_auth_binary(struct session *s, enum proto_status *ps, uint16_t err, size_t len, size_t *consumed)
{
    const struct mc_request *req = &s->req.mc;

    if (*ps == PROTO_CLOSE) {
        /* memcached checks authentication after the body length but before
         * the opcode's shape and the key length (0x04): refuse those too */
        if (s->auth == SESSION_AUTH_OPEN || err != BINARY_STATUS_EINVAL || req->opcode == BINARY_OP_VERSION ||
            is_sasl_opcode(req->opcode) || binary_body_length(s->rbuf + s->rpos) > BINARY_BODY_MAX)
            return false;
    } else if (*ps != PROTO_OK && *ps != PROTO_ERROR) {
        return false;
    }
    if (settings.enable_sasl && *ps == PROTO_ERROR && is_sasl_opcode(req->opcode)) {
        *ps = sasl_request(s, len, consumed);
        return true;
    }
    if (s->auth == SESSION_AUTH_OPEN || (*ps == PROTO_OK && req->cmd == MC_CMD_VERSION))
        return false;
    s->swallow_left = 0;
    /* not authenticated: refuse and close */
    (void)binary_encode_status(&s->out, req, BINARY_STATUS_AUTH_ERROR);
    s->close_after_write = true;
    *ps = PROTO_ERROR;
    return true;
}

void session_auth_deinit(struct session *s)
{
    mcd_sasl_conn_free(&s->sasl);
}
