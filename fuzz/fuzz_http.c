/*
 * fuzz_http.c - the request heads of the Prometheus endpoint
 * (server/metrics_req.c): the input is what a client sends; each request
 * head in it (up to its first "\r\n\r\n", as metrics_http.c cuts them) is
 * read, and the answer is checked against the bytes: the page only for a
 * GET or HEAD of /metrics, an error always closes.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "server/metrics_req.h"

#include <string.h>

int fuzz_http_input(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *e = NULL;
        for (const char *q = p; q + 3 < end; q++)
            if (memcmp(q, "\r\n\r\n", 4) == 0) {
                e = q + 4;
                break;
            }
        if (e == NULL)
            break;
        size_t len = (size_t)(e - p);
        /* metrics_http.c hands over the head in a buffer of exactly len bytes */
        char *head = malloc(len);
        FUZZ_CHECK(head != NULL);
        memcpy(head, p, len);
        struct mreq r;
        metrics_req_parse(head, len, &r);
        FUZZ_CHECK(r.action <= MREQ_HAS_BODY);
        if (r.action == MREQ_METRICS || r.action == MREQ_NOT_FOUND) {
            FUZZ_CHECK(memcmp(head, r.head ? "HEAD " : "GET ", r.head ? 5 : 4) == 0);
            FUZZ_CHECK(memchr(head, '\0', len) == NULL);
        }
        if (r.action == MREQ_METRICS)
            FUZZ_CHECK(strncmp(head + (r.head ? 5 : 4), "/metrics", 8) == 0);
        else if (r.action != MREQ_NOT_FOUND)
            FUZZ_CHECK(r.close);
        free(head);
        if (r.close)
            break;
        p = e;
    }
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_http_input(data, size);
}
#endif
