/*
 * compare.c - play a sequence to the oracle and to the server under test
 * and decide whether they diverge; name the divergence by a signature
 * (the first differing reply line on each side, numbers masked) that
 * survives shrinking and groups repeats of one difference.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

struct mcd_server *dg_start(const char *bin, const struct dg_flagset *fs)
{
    if (fs->proto == DG_ONLY_BINARY)
        return mcd_start_bin_binary(bin, fs->args);
    return mcd_start_bin(bin, fs->args);
}

void dg_verdict_free(struct dg_verdict *v)
{
    dg_result_free(&v->r[0]);
    dg_result_free(&v->r[1]);
    memset(v, 0, sizeof(*v));
}

/* The line of b around offset at, numbers and key prefixes masked, at most 90 bytes. */
static void sig_line(const struct mcd_buf *b, size_t at, char *out, size_t cap)
{
    size_t s = at, e = at, o = 0;

    if (at >= b->len) {
        snprintf(out, cap, "<nothing>");
        return;
    }
    while (s > 0 && b->p[s - 1] != '\n')
        s--;
    while (e < b->len && b->p[e] != '\n')
        e++;
    bool bin = e - s > 4 && memcmp(b->p + s, "BIN ", 4) == 0;
    if (bin && e - s > 17)
        e = s + 17; /* "BIN op=xx st=xxxx" */
    for (size_t i = s; i < e && o + 2 < cap && o < 90; i++) {
        unsigned char ch = b->p[i];
        if (!bin && ch >= '0' && ch <= '9') {
            if (o == 0 || out[o - 1] != 'N')
                out[o++] = 'N';
        } else if (ch == '\r') {
            continue;
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

void dg_judge(struct dg_verdict *v)
{
    const struct mcd_buf *a = &v->r[0].norm, *b = &v->r[1].norm;
    size_t at = 0;

    while (at < a->len && at < b->len && a->p[at] == b->p[at])
        at++;
    v->differs = at != a->len || at != b->len || v->r[0].end != v->r[1].end;
    v->sig[0] = '\0';
    if (!v->differs)
        return;
    if (at == a->len && at == b->len) {
        snprintf(v->sig, sizeof(v->sig), "[end] %s | %s", dg_end_names[v->r[0].end], dg_end_names[v->r[1].end]);
        return;
    }
    char la[100], lb[100];
    sig_line(a, at, la, sizeof(la));
    sig_line(b, at, lb, sizeof(lb));
    snprintf(v->sig, sizeof(v->sig), "%s | %s", la, lb);
}

bool dg_compare_fresh(const struct dg_flagset *fs, const struct dg_seq *s, int stall_ms, struct dg_verdict *v)
{
    struct mcd_server *srv[2];
    bool ok = true;

    memset(v, 0, sizeof(*v));
    srv[0] = dg_start(mcd_oracle_bin(), fs);
    srv[1] = dg_start(NULL, fs);
    if (srv[0] == NULL || srv[1] == NULL)
        ok = false;
    for (int i = 0; ok && i < 2; i++)
        ok = dg_run(srv[i], fs, s, stall_ms, &v->r[i]);
    for (int i = 0; ok && i < 2; i++)
        v->exited[i] = mcd_wait_exit(srv[i], 0);
    mcd_kill(srv[0]);
    mcd_kill(srv[1]);
    if (ok)
        dg_judge(v);
    if (ok && v->exited[0] != v->exited[1]) {
        v->differs = true;
        snprintf(v->sig, sizeof(v->sig), "[process exited] %s", v->exited[1] ? "server under test" : "oracle");
    }
    return ok;
}
