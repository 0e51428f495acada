/*
 * session.c - request framing on plain buffers (see session.h): the read
 * buffer, parse_one() (protocol sniffing, parser errors answered here), and
 * the loop that hands requests to the command layer and carries them
 * through NREAD (a value read into its item), SWALLOW (a data block
 * dropped) and MWRITE (a get line suspended at the output cap).
 *
 * Requests are parsed and executed straight from the read buffer; a
 * storage command's value goes into item memory, and the caller may read()
 * a large value straight into the item (session_read_space()), so large
 * values are not copied twice. Replies reference values in item memory
 * (each item pinned until its bytes are consumed from s->out).
 */
#include "config.h"

#include "server/session.h"
#include "server/session_auth.h"

#include "proto/binary.h"
#include "proto/meta.h"
#include "proto/text.h"
#include "server/latency.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
#define X(id, name) name,
    SESSION_STATES(X)
#undef X
};

const char *session_state_name(enum session_state s)
{
    return state_names[s];
}

static void set_state(struct session *s, enum session_state st)
{
    s->state = st;
    /* after a first command, waiting for the next is memcached's conn_read */
    int pub = st == SESSION_NEW_CMD && s->commands > 0 ? SESSION_READ : (int)st;
    atomic_store_explicit(&s->pub_state, pub, memory_order_relaxed);
}

static void release_item(void *owner)
{
    item_release(owner);
}

int session_init(struct session *s, enum proto_binding proto, struct store_tstats *ts,
                 struct store_tstats *uncounted, struct worker_tstats *ws)
{
    memset(s, 0, sizeof(*s));
    s->proto = proto;
    s->rsize = SESSION_RBUF_INIT;
    s->rbuf = malloc(s->rsize);
    if (s->rbuf == NULL)
        return -1;
    reply_init(&s->out, release_item);
    s->cmd = (struct request_ctx){
        .enc = proto == PROTO_BINARY ? &binary_encoder : &text_encoder,
        .out = &s->out,
        .out_cap = SESSION_OUT_HIGH,
        .ts = ts,
        .uncounted = uncounted,
        .ws = ws,
    };
    if (settings.auth_file != NULL)
        s->auth = SESSION_AUTH_ASCII;
    else if (settings.enable_sasl)
        s->auth = SESSION_AUTH_SASL;
    set_state(s, SESSION_NEW_CMD);
    return 0;
}

void session_deinit(struct session *s)
{
    if (s->nread_it != NULL)
        item_release(s->nread_it);
    s->nread_it = NULL;
    process_ctx_release(&s->cmd); /* a dump cut short */
    session_auth_deinit(s);
    reply_deinit(&s->out);
    free(s->rbuf);
    s->rbuf = NULL;
}

void session_reset(struct session *s, enum proto_binding proto)
{
    if (s->nread_it != NULL)
        item_release(s->nread_it);
    s->nread_it = NULL;
    reply_clear(&s->out);
    s->rpos = s->rlen = 0;
    s->direct = false;
    s->swallow_left = 0;
    s->cmd.mget_pos = 0;
    s->cmd.broken = false;
    s->close_after_write = false;
    s->proto = proto;
    s->cmd.enc = proto == PROTO_BINARY ? &binary_encoder : &text_encoder;
    set_state(s, SESSION_NEW_CMD);
}

/* Makes room for more input: compacts, and grows while one line does not fit. */
static bool make_room(struct session *s)
{
    if (s->rpos > 0) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
        s->rlen -= s->rpos;
        s->rpos = 0;
    }
    if (s->rlen < s->rsize)
        return true;
    size_t nsize = s->rsize * 2;
    if (nsize > TEXT_MULTIGET_LINE_MAX + SESSION_RBUF_INIT)
        return false;
    char *n = realloc(s->rbuf, nsize);
    if (n == NULL)
        return false;
    s->rbuf = n;
    s->rsize = nsize;
    return true;
}

/* Gives a grown, now-empty buffer back. */
static void maybe_shrink(struct session *s)
{
    if (s->rsize > SESSION_RBUF_INIT && s->rpos == s->rlen) {
        char *n = realloc(s->rbuf, SESSION_RBUF_INIT);
        if (n != NULL) {
            s->rbuf = n;
            s->rsize = SESSION_RBUF_INIT;
        }
        s->rpos = s->rlen = 0;
    }
}

char *session_read_space(struct session *s, size_t *len)
{
    if (s->state == SESSION_NREAD && s->rpos == s->rlen) {
        size_t want = s->nread_len - s->nread_got;
        if (want >= SESSION_DIRECT_READ_MIN) {
            s->direct = true;
            *len = want;
            return s->nread_data + s->nread_got;
        }
    }
    s->direct = false;
    if (s->rpos == s->rlen)
        s->rpos = s->rlen = 0;
    /* Full: compact, or grow while one command line does not fit (the
     * parser refuses a line before it outgrows the cap). */
    if (s->rlen == s->rsize && !make_room(s))
        return NULL;
    *len = s->rsize - s->rlen;
    return s->rbuf + s->rlen;
}

size_t session_feed(struct session *s, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t room;
        char *p = session_read_space(s, &room);
        if (p == NULL)
            break;
        size_t take = len - done < room ? len - done : room;
        memcpy(p, buf + done, take);
        session_read_done(s, take);
        done += take;
    }
    return done;
}

/* Feeds buffered bytes to a pending value. Returns true when it is complete. */
static bool fill_value(struct session *s)
{
    size_t avail = s->rlen - s->rpos;
    size_t want = s->nread_len - s->nread_got;
    size_t take = avail < want ? avail : want;
    if (take > 0) {
        memcpy(s->nread_data + s->nread_got, s->rbuf + s->rpos, take);
        s->nread_got += take;
        s->rpos += take;
        avail -= take;
    }
    while (s->nread_got == s->nread_len && s->nread_term < 2 && avail > 0) {
        s->term[s->nread_term++] = s->rbuf[s->rpos++];
        avail--;
    }
    return s->nread_got == s->nread_len && s->nread_term == 2;
}

/* The protocol of a session under -B auto is its first byte's (0x80:
 * binary); from then on the command layer words replies with its table. */
static void pick_protocol(struct session *s, unsigned char first)
{
    s->proto = first == BINARY_MAGIC_REQUEST ? PROTO_BINARY : PROTO_ASCII;
    s->cmd.enc = s->proto == PROTO_BINARY ? &binary_encoder : &text_encoder;
}

/*
 * Parses one request into s->req with the session's protocol. Errors the
 * parser reports are answered here; the caller skips *consumed bytes (and
 * swallow_left more).
 */
static enum proto_status parse_one(struct session *s, size_t *consumed)
{
    const char *buf = s->rbuf + s->rpos;
    size_t len = s->rlen - s->rpos;
    struct mc_request *req = &s->req.mc;
    enum proto_status ps;
    int rc = 0;

    if (s->proto == PROTO_AUTO)
        pick_protocol(s, (unsigned char)buf[0]);
    s->req.kind = REQUEST_CLASSIC;
    if (s->proto == PROTO_BINARY) {
        uint16_t err = 0;
        ps = binary_parse(buf, len, req, consumed, &err);
        if ((s->auth != SESSION_AUTH_OPEN || (ps == PROTO_ERROR && settings.enable_sasl)) &&
            session_auth_binary(s, &ps, err, len, consumed))
            return ps;
        switch (ps) {
        case PROTO_ERROR:
            /* unknown opcode: answer, skip its body, keep the connection */
            rc = binary_encode_status(&s->out, req, err);
            s->swallow_left = req->vlen;
            break;
        case PROTO_CLOSE:
        case PROTO_CLIENT_ERROR:
            if (err != 0)
                rc = binary_encode_status(&s->out, req, err);
            s->close_after_write = true;
            s->close_error = true;
            ps = PROTO_CLIENT_ERROR;
            break;
        default:
            break;
        }
    } else if (s->auth != SESSION_AUTH_OPEN) {
        return session_auth_text(s, consumed);
    } else if (meta_is_meta(buf, len)) {
        /* meta commands: errors always go out; a bad ms header that got as
         * far as its data length has its data block swallowed */
        const char *errmsg = NULL;
        size_t swallow = 0;
        ps = meta_parse(buf, len, &s->req.meta, consumed, &errmsg, &swallow);
        if (ps == PROTO_OK) {
            s->req.kind = REQUEST_META;
        } else if (ps == PROTO_ERROR) {
            rc = text_encode_error(&s->out);
        } else if (ps == PROTO_CLIENT_ERROR) {
            rc = text_encode_client_error(&s->out, errmsg);
            s->swallow_left = swallow;
        }
    } else {
        const char *errmsg = NULL;
        ps = text_parse(buf, len, req, consumed, &errmsg);
        if (ps == PROTO_ERROR) {
            if (!req->noreply) /* 1.6.45: a trailing noreply silences ERROR */
                rc = text_encode_error(&s->out);
        } else if (ps == PROTO_CLIENT_ERROR) {
            /* a bad storage header whose length parsed has its data block
             * swallowed (req->vlen bytes); a trailing noreply silences */
            s->swallow_left = req->vlen;
            if (!req->noreply)
                rc = text_encode_client_error(&s->out, errmsg ? errmsg : "bad command line format");
        }
    }
    if (rc != 0)
        s->close_after_write = true;
    return ps;
}

/* Bytes after a value that the protocol puts there: "\r\n" but in binary. */
static size_t value_terminator_len(const struct session *s)
{
    return s->proto == PROTO_BINARY ? 0 : 2;
}

/* Sets up the read of a storage request's value into `it`. */
static void start_value(struct session *s, struct item *it)
{
    s->nread_it = it;
    s->nread_data = item_data(it);
    s->nread_len = item_nbytes(it);
    s->nread_got = 0;
    s->nread_term = (uint8_t)(2 - value_terminator_len(s));
    s->term[0] = '\r';
    s->term[1] = '\n';
    /* the request's pointers into rbuf die with the line (the value may
     * move the buffer); a meta request holds none */
    s->req.mc.key = s->req.mc.keys = s->req.mc.args = NULL;
    set_state(s, SESSION_NREAD);
}

/* The value and its terminator are in: hand them to the command layer. */
static void finish_value(struct session *s)
{
    struct item *it = s->nread_it;
    s->nread_it = NULL;
    set_state(s, SESSION_NEW_CMD);
    process_value(&s->cmd, &s->req, it, s->term[0] == '\r' && s->term[1] == '\n');
    if (s->cmd.broken)
        s->close_after_write = true;
}

/* Latency (latency.h): a request's start is read when it is about to run,
 * unless the previous request of this batch ended (*t) just before; its end
 * is the next one's start. */
static inline void lat_start(uint64_t *t)
{
    if (latency_enabled && *t == 0)
        *t = latency_now();
}

/* The request in s->req is done (its reply queued), unless `next` says it
 * goes on (its value to read, or the rest of its keys). */
__attribute__((always_inline)) static inline void lat_end(struct session *s, uint64_t *t, enum process_next next)
{
    if (*t != 0 && next != PROCESS_NREAD && next != PROCESS_MORE) {
        uint64_t now = latency_now();
        latency_record(latency_cmd_of(&s->req), latency_elapsed_ns(*t, now));
        *t = now;
    }
}

static enum session_result run_next(struct session *s, enum process_next next)
{
    switch (next) {
    case PROCESS_NREAD: start_value(s, s->cmd.value_item); break;
    case PROCESS_SWALLOW:
        s->swallow_left = s->cmd.swallow + value_terminator_len(s);
        set_state(s, SESSION_SWALLOW);
        break;
    case PROCESS_CLOSE: return SESSION_CLOSE;
    case PROCESS_SHUTDOWN: return SESSION_SHUTDOWN;
    case PROCESS_GRACEFUL: return SESSION_GRACEFUL;
    case PROCESS_WATCH: return SESSION_WATCH;
    case PROCESS_MORE: /* handled by the caller */
    case PROCESS_CONTINUE: break;
    }
    return SESSION_NEED_INPUT;
}

enum session_result session_run(struct session *s, unsigned *budget)
{
    uint64_t lat_t = 0; /* when the request under way started (0: not read) */
    for (;;) {
        if (session_out_full(s))
            return SESSION_OUTPUT_FULL;
        if (s->state == SESSION_NREAD) {
            if (!fill_value(s))
                return SESSION_NEED_INPUT;
            lat_start(&lat_t);
            finish_value(s);
            lat_end(s, &lat_t, PROCESS_CONTINUE);
            continue;
        }
        if (s->state == SESSION_SWALLOW) {
            size_t avail = s->rlen - s->rpos;
            size_t take = avail < s->swallow_left ? avail : s->swallow_left;
            s->rpos += take;
            s->swallow_left -= take;
            if (s->swallow_left > 0)
                return SESSION_NEED_INPUT;
            set_state(s, SESSION_NEW_CMD);
            continue;
        }
        if (s->close_after_write)
            return SESSION_CLOSE;
        if (s->state != SESSION_MWRITE && s->rpos == s->rlen)
            return SESSION_NEED_INPUT;
        if (*budget == 0)
            return SESSION_BUDGET;

        size_t consumed = 0;
        if (s->state == SESSION_MWRITE) {
            /* resume the get line (or dump: no keys) where the command
             * layer stopped */
            if (s->req.mc.keys != NULL)
                s->req.mc.keys = s->rbuf + s->rpos + s->mget_keys_off;
            consumed = s->mget_consumed;
        } else {
            enum proto_status ps = parse_one(s, &consumed);
            if (ps == PROTO_NEED_MORE)
                return SESSION_NEED_INPUT;
            if (ps == PROTO_CLOSE) {
                s->close_error = true;
                (*budget)--;
                return SESSION_CLOSE;
            }
            if (ps != PROTO_OK) {
                (*budget)--;
                s->rpos += consumed;
                if (s->swallow_left > 0)
                    set_state(s, SESSION_SWALLOW);
                continue;
            }
        }
        (*budget)--;
        s->commands++;
        atomic_store_explicit(&s->pub_state, SESSION_PARSE_CMD, memory_order_relaxed);
        lat_start(&lat_t);
        enum process_next next = process_request(&s->cmd, &s->req);
        lat_end(s, &lat_t, next);
        atomic_store_explicit(&s->pub_state, s->state == SESSION_NEW_CMD ? SESSION_READ : (int)s->state,
                              memory_order_relaxed);
        if (s->cmd.broken)
            s->close_after_write = true;
        if (next == PROCESS_MORE) {
            if (s->state != SESSION_MWRITE) {
                /* a text key list, or a dump (whose cursor is in s->cmd),
                 * stops half way: rebase the keys on rpos */
                if (s->req.mc.keys != NULL)
                    s->mget_keys_off = (size_t)(s->req.mc.keys - (s->rbuf + s->rpos));
                s->mget_consumed = consumed;
                set_state(s, SESSION_MWRITE);
            }
            continue;   /* the cap check at the top stops the loop */
        }
        if (s->state == SESSION_MWRITE)
            set_state(s, SESSION_NEW_CMD);
        s->rpos += consumed;
        if (__builtin_expect(next == PROCESS_CONTINUE, 1)) {
            /* the common end of a batch, answered as the loop's top would
             * (output under the cap, nothing to close, input all used) */
            if (s->rpos == s->rlen && !s->close_after_write && !session_out_full(s))
                return SESSION_NEED_INPUT;
            continue;
        }
        enum session_result r = run_next(s, next);
        if (r != SESSION_NEED_INPUT)
            return r;
    }
}

void session_shrink(struct session *s)
{
    maybe_shrink(s);
}

void session_close_input(struct session *s)
{
    if (s->state == SESSION_CLOSING)
        return;
    set_state(s, SESSION_CLOSING);
    s->close_after_write = true;
    s->rpos = s->rlen;
    maybe_shrink(s);
}
