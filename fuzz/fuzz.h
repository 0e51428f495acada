/*
 * fuzz.h - the entry points shared by the libFuzzer drivers and the plain
 * corpus replay (fuzz/replay.c).
 *
 * Each fuzz_<target>.c defines one `fuzz_<target>_input()` that runs one
 * input through a parser (or the whole request path) and checks invariants
 * with FUZZ_CHECK, which aborts: libFuzzer and ASan report the abort as a
 * crash, and `make check` sees replay fail. When built with -DMCD_LIBFUZZER
 * each file also defines LLVMFuzzerTestOneInput for its own target, so one
 * source serves both builds and replay needs no clang.
 *
 * The inputs are plain bytes, exactly what a client would send.
 */
#ifndef MCD_FUZZ_H
#define MCD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct reply;

/* Aborts with the failed condition when `cond` is false. */
#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* The targets. Each returns 0 (libFuzzer's convention). */
int fuzz_text_input(const uint8_t *data, size_t size);
int fuzz_binary_input(const uint8_t *data, size_t size);
int fuzz_request_path_input(const uint8_t *data, size_t size);
int fuzz_meta_input(const uint8_t *data, size_t size);
int fuzz_expo_input(const uint8_t *data, size_t size);
int fuzz_http_input(const uint8_t *data, size_t size);
int fuzz_udp_input(const uint8_t *data, size_t size);
int fuzz_udp_path_input(const uint8_t *data, size_t size);
int fuzz_auth_input(const uint8_t *data, size_t size);
int fuzz_tls_input(const uint8_t *data, size_t size);

/*
 * Checks a reply builder's bookkeeping (the pending iovecs add up to
 * r->bytes and every byte is readable), copies the pending bytes into a
 * malloc'd buffer (*out, length *outlen; the caller frees it) and then
 * "sends" them in uneven pieces with reply_consume(), which releases the
 * owners. Leaves the builder empty.
 */
void fuzz_drain_reply(struct reply *r, char **out, size_t *outlen);

/* Checks that a batch of text (or meta) replies is whole: empty, or ending
 * in "\r\n". On failure prints the reply's tail, escaped, before aborting. */
void fuzz_check_text_replies(const char *buf, size_t len);

/* Checks that `buf` is a sequence of whole binary response packets. */
void fuzz_check_binary_responses(const char *buf, size_t len);

/* Waits until no `lru_crawler crawl` runs. The crawl has a thread of its
 * own (even with background_threads off): while it runs, it holds the item
 * it looks at and reclaims expired ones, so what a request sees would
 * depend on timing. */
void fuzz_wait_crawler(void);

/* With every session gone, checks that only linked items hold chunks (no
 * item leaked by the request path), then tears the store down. */
void fuzz_check_chunks_and_teardown(void);

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

#endif /* MCD_FUZZ_H */
