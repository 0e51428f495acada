/*
 * fuzz_util.c - reply checks shared by the fuzz targets (see fuzz.h).
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/binary.h"
#include "proto/reply.h"
#include "store/store.h"

#include <string.h>
#include <time.h>

void fuzz_drain_reply(struct reply *r, char **out, size_t *outlen)
{
    size_t n;
    const struct iovec *iov = reply_pending(r, &n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(iov[i].iov_base != NULL || iov[i].iov_len == 0);
        total += iov[i].iov_len;
    }
    FUZZ_CHECK(total == r->bytes);

    char *buf = malloc(total + 1);
    FUZZ_CHECK(buf != NULL);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, iov[i].iov_base, iov[i].iov_len); /* ASan checks every byte */
        off += iov[i].iov_len;
    }
    buf[total] = '\0';

    /* Send it in pieces of 1, 7, 4096, 1, 7, 4096 ... bytes, so that
     * partial sends split iovecs at every kind of boundary. */
    static const size_t steps[] = {1, 7, 4096};
    size_t left = total, k = 0;
    while (left > 0) {
        size_t step = steps[k++ % 3];
        if (step > left)
            step = left;
        reply_consume(r, step);
        left -= step;
        FUZZ_CHECK(r->bytes == left);
    }
    FUZZ_CHECK(reply_empty(r));
    if (out != NULL) {
        *out = buf;
        *outlen = total;
    } else {
        free(buf);
    }
}

/* Prints `what` and up to the last 512 bytes of a reply, escaped, to stderr. */
static void dump_reply(const char *what, const char *buf, size_t len)
{
    size_t from = len > 512 ? len - 512 : 0;
    fprintf(stderr, "fuzz: %s (%zu bytes, last %zu shown): \"", what, len, len - from);
    for (size_t i = from; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\n')
            fputs("\\n", stderr);
        else if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs("\"\n", stderr);
}

void fuzz_check_text_replies(const char *buf, size_t len)
{
    if (len == 0)
        return;
    if (len < 2 || buf[len - 2] != '\r' || buf[len - 1] != '\n')
        dump_reply("text reply does not end in \\r\\n", buf, len);
    FUZZ_CHECK(len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n');
}

void fuzz_check_binary_responses(const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        FUZZ_CHECK(len - off >= BINARY_HEADER_LEN);
        struct binary_header h;
        binary_header_decode(buf + off, &h);
        FUZZ_CHECK(h.magic == BINARY_MAGIC_RESPONSE);
        FUZZ_CHECK((size_t)h.extlen + h.keylen <= h.bodylen);
        FUZZ_CHECK(h.bodylen <= len - off - BINARY_HEADER_LEN);
        off += BINARY_HEADER_LEN + (size_t)h.bodylen;
    }
    FUZZ_CHECK(off == len);
}

void fuzz_wait_crawler(void)
{
    struct store_crawl_info ci;
    store_crawl_info(&ci);
    if (!ci.running)
        return;
    uint32_t sleep_us = store_crawl_sleep();
    store_crawl_set_sleep(0); /* "lru_crawler sleep" may have asked for 1 s a step */
    for (;;) {
        store_crawl_info(&ci);
        if (!ci.running)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
    store_crawl_set_sleep(sleep_us);
}

void fuzz_check_chunks_and_teardown(void)
{
    fuzz_wait_crawler(); /* a crawl holds the item it looks at */
    uint64_t used = 0, linked = 0;
    unsigned n = store_segments() ? 0 : store_class_count(); /* segments have no chunks to count */
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci))
            continue;
        used += ci.used_chunks;
        linked += ci.curr_items;
    }
    FUZZ_CHECK(used == linked);
    store_teardown();
}
