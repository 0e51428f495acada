/*
 * test_metrics.c - the Prometheus exposition writer (metrics_expo.c) and
 * the /metrics page (metrics_page.c) on plain buffers: escaping, histogram
 * samples, and the exporter's metrics following the traffic of a session.
 */
#include <criterion/criterion.h>

#include "server/hotkeys.h"
#include "server/metrics_expo.h"
#include "server/metrics_page.h"
#include "server/metrics_req.h"

#include "fixture.h"

#include <stdio.h>

/* The buffer as a NUL-terminated string (the buffer keeps ownership). */
static const char *str(struct expo_buf *b)
{
    expo_put(b, "", 1);
    b->len--;
    return b->data;
}

Test(expo, family_and_samples)
{
    struct expo_buf b;
    expo_init(&b);
    expo_family(&b, "m_total", "counter", "Counts \\ things\nof two lines.");
    struct expo_label l[2] = {{"a", "x", 1}, {"b", "y\"z", 3}};
    expo_sample_u64(&b, "m_total", l, 2, 18446744073709551615u);
    expo_sample_f64(&b, "m_total", NULL, 0, 0.25);
    expo_sample_num(&b, "m_total", l, 1, "12.500000");
    cr_expect_str_eq(str(&b), "# HELP m_total Counts \\\\ things\\nof two lines.\n"
                              "# TYPE m_total counter\n"
                              "m_total{a=\"x\",b=\"y\\\"z\"} 18446744073709551615\n"
                              "m_total 0.25\n"
                              "m_total{a=\"x\"} 12.500000\n");
    cr_expect_not(b.oom);
    expo_free(&b);
}

/* Any key bytes give one valid UTF-8 line; read back, a backslash is
 * doubled and control and high bytes are the text \xHH, so that no two keys
 * read back the same (the key "\x01" is not the byte 0x01). */
Test(expo, label_value_escaping)
{
    struct expo_buf b;
    expo_init(&b);
    static const char key[] = "a\\b\"c\nd\re\x01\xff f";
    struct expo_label l = {"key", key, sizeof(key) - 1};
    expo_sample_u64(&b, "k", &l, 1, 7);
    cr_expect_str_eq(str(&b), "k{key=\"a\\\\\\\\b\\\"c\\\\x0ad\\\\x0de\\\\x01\\\\xff f\"} 7\n");
    expo_free(&b);
    struct expo_label t = {"key", "\\x01", 4};
    expo_sample_u64(&b, "k", &t, 1, 7);
    cr_expect_str_eq(str(&b), "k{key=\"\\\\\\\\x01\"} 7\n");
    /* a NUL inside a key is a byte like the others */
    struct expo_label z = {"key", "a\0b", 3};
    expo_free(&b);
    expo_sample_u64(&b, "k", &z, 1, 1);
    cr_expect_str_eq(str(&b), "k{key=\"a\\\\x00b\"} 1\n");
    expo_free(&b);
}

Test(expo, histogram_is_cumulative)
{
    struct expo_buf b;
    expo_init(&b);
    static const uint64_t bounds[] = {10, 100, 1000};
    static const uint64_t counts[] = {1, 0, 5};
    struct expo_label l = {"command", "get", 3};
    expo_histogram(&b, "h_seconds", &l, 1, bounds, counts, 3, 2, 3500, 1e6);
    cr_expect_str_eq(str(&b), "h_seconds_bucket{command=\"get\",le=\"1e-05\"} 1\n"
                              "h_seconds_bucket{command=\"get\",le=\"0.0001\"} 1\n"
                              "h_seconds_bucket{command=\"get\",le=\"0.001\"} 6\n"
                              "h_seconds_bucket{command=\"get\",le=\"+Inf\"} 8\n"
                              "h_seconds_sum{command=\"get\"} 0.0035\n"
                              "h_seconds_count{command=\"get\"} 8\n");
    expo_free(&b);
}

Test(expo, special_floats)
{
    struct expo_buf b;
    expo_init(&b);
    expo_sample_f64(&b, "f", NULL, 0, 1.0 / 0.0);
    expo_sample_f64(&b, "f", NULL, 0, -1.0 / 0.0);
    expo_sample_f64(&b, "f", NULL, 0, 0.1);
    cr_expect_str_eq(str(&b), "f +Inf\nf -Inf\nf 0.1\n");
    expo_free(&b);
}

TestSuite(metrics_page, .init = fx_start, .fini = fx_stop);

/* The value of the sample line that starts with `series ` in page, or -1. */
static double sample(const char *page, const char *series)
{
    char pat[256];
    snprintf(pat, sizeof(pat), "\n%s ", series);
    const char *at = strstr(page, pat);
    return at != NULL ? strtod(at + strlen(pat), NULL) : -1;
}

static char *page_now(void)
{
    struct expo_buf b;
    expo_init(&b);
    cr_assert(metrics_page_write(&b));
    expo_put(&b, "", 1);
    return b.data;
}

Test(metrics_page, exporter_metrics_follow_traffic)
{
    char *p = page_now();
    cr_expect_eq(sample(p, "memcached_up"), 1);
    cr_expect_eq(sample(p, "memcached_version{version=\"1.6.45\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"get\",status=\"hit\"}"), 0);
    cr_expect_eq(sample(p, "memcached_limit_bytes"), 64u << 20);
    cr_expect_eq(sample(p, "memcached_max_connections"), 1024);
    cr_expect_null(strstr(p, "memcached_slab_current_items"), "no class in use yet:\n%s", p);
    free(p);

    free(fx_text("set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\nget a b c\r\ndelete a\r\ndelete z\r\n"
                 "cas b 0 0 1 1\r\nz\r\nincr nope 1\r\ntouch b 10\r\nflush_all\r\n"));
    p = page_now();
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"get\",status=\"hit\"}"), 2);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"get\",status=\"miss\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"delete\",status=\"hit\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"delete\",status=\"miss\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"incr\",status=\"miss\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"cas\",status=\"badval\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"touch\",status=\"hit\"}"), 1);
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"flush\",status=\"hit\"}"), 1);
    /* cmd_set counts the cas too; the exporter's set excludes it */
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"set\",status=\"hit\"}"), 2);
    cr_expect_eq(sample(p, "memcached_items_total"), 2);
    cr_expect_eq(sample(p, "memcached_slab_commands_total{slab=\"1\",command=\"set\",status=\"hit\"}"), 2);
    cr_expect_eq(sample(p, "memcached_slab_chunk_size_bytes{slab=\"1\"}"), 96);
    cr_expect_geq(sample(p, "memcached_malloced_bytes"), 1 << 20);
    /* every family is declared once, before its samples */
    cr_expect_eq(strstr(p, "# TYPE memcached_commands_total counter\n"),
                 strstr(p, "# TYPE memcached_commands_total"));
    free(p);
}

/* `stats reset` moves the metrics as it moves `stats` (the exporter's view). */
Test(metrics_page, stats_reset_applies)
{
    free(fx_text("get a\r\nget a\r\n"));
    char *p = page_now();
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"get\",status=\"miss\"}"), 2);
    free(p);
    free(fx_text("stats reset\r\n"));
    p = page_now();
    cr_expect_eq(sample(p, "memcached_commands_total{command=\"get\",status=\"miss\"}"), 0);
    free(p);
}

/* memcached_request_duration_seconds: one histogram per command, buckets
 * cumulative, +Inf and _count the requests made. */
Test(metrics_page, request_duration_histogram)
{
    free(fx_text("set a 0 0 1\r\nx\r\nget a\r\nget a\r\nget b\r\n"));
    char *p = page_now();
    cr_expect_not_null(strstr(p, "# TYPE memcached_request_duration_seconds histogram\n"));
    cr_expect_eq(sample(p, "memcached_request_duration_seconds_count{command=\"get\"}"), 3);
    cr_expect_eq(sample(p, "memcached_request_duration_seconds_bucket{command=\"get\",le=\"+Inf\"}"), 3);
    cr_expect_eq(sample(p, "memcached_request_duration_seconds_count{command=\"set\"}"), 1);
    cr_expect_eq(sample(p, "memcached_request_duration_seconds_count{command=\"delete\"}"), 0);
    /* the le bounds, in order, each count at least the one before */
    double last = 0;
    const char *at = p;
    size_t n = 0;
    while ((at = strstr(at, "\nmemcached_request_duration_seconds_bucket{command=\"get\",le=\"")) != NULL) {
        at = strchr(at, '}');
        double v = strtod(at + 1, NULL);
        cr_expect_geq(v, last);
        last = v;
        n++;
    }
    cr_expect_eq(n, 23, "22 bounds and +Inf, got %zu", n);
    cr_expect_gt(sample(p, "memcached_request_duration_seconds_sum{command=\"get\"}"), 0);
    free(p);
}

/* memcached_hotkey_requests: the key every get asks for leads. */
Test(metrics_page, hot_keys)
{
    settings.hotkeys = true;
    hotkeys_set_enabled(true);
    char req[64];
    for (int i = 0; i < 8000; i++) { /* gets are sampled one in 64 */
        snprintf(req, sizeof(req), "get %s\r\n", i % 2 == 0 ? "hot\\key" : "cold");
        free(fx_text(req));
    }
    char *p = page_now();
    cr_expect_not_null(strstr(p, "# TYPE memcached_hotkey_requests gauge\n"), "%s", p);
    double hot = sample(p, "memcached_hotkey_requests{key=\"hot\\\\\\\\key\"}");
    cr_expect_gt(hot, 2000, "%s", strstr(p, "memcached_hotkey_requests"));
    free(p);
}

/* metrics_req_parse: what each request head is answered. */
Test(metrics_req, heads)
{
    static const struct {
        const char *head;
        enum mreq_action action;
        bool head_only, close;
    } cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", MREQ_METRICS, false, false},
        {"GET /metrics?name=x HTTP/1.1\r\n\r\n", MREQ_METRICS, false, false},
        {"GET /metrics HTTP/1.0\r\n\r\n", MREQ_METRICS, false, true},
        {"GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", MREQ_METRICS, false, false},
        {"GET /metrics HTTP/1.1\r\nconnection:close \r\n\r\n", MREQ_METRICS, false, true},
        {"HEAD /metrics HTTP/1.1\r\n\r\n", MREQ_METRICS, true, false},
        {"GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", MREQ_METRICS, false, false},
        {"GET / HTTP/1.1\r\n\r\n", MREQ_NOT_FOUND, false, false},
        {"GET /metrics/ HTTP/1.1\r\n\r\n", MREQ_NOT_FOUND, false, false},
        {"POST /metrics HTTP/1.1\r\n\r\n", MREQ_NOT_ALLOWED, false, true},
        {"get /metrics HTTP/1.1\r\n\r\n", MREQ_NOT_ALLOWED, false, true},
        {"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n", MREQ_HAS_BODY, false, true},
        {"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", MREQ_HAS_BODY, false, true},
        {"GET /metrics HTTP/2.0\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET  /metrics HTTP/1.1\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /metrics HTTP/1.1 \r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /metrics\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /metrics HTTP/1.1\r\nX: a\x01z\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"GET /m\xe9trics HTTP/1.1\r\n\r\n", MREQ_BAD_REQUEST, false, true},
        {"\r\n\r\n", MREQ_BAD_REQUEST, false, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mreq r;
        metrics_req_parse(cases[i].head, strlen(cases[i].head), &r);
        cr_expect_eq(r.action, cases[i].action, "case %zu: action %d", i, r.action);
        if (r.action == MREQ_METRICS)
            cr_expect_eq(r.head, cases[i].head_only, "case %zu", i);
        cr_expect_eq(r.close, cases[i].close, "case %zu: close %d", i, r.close);
    }
    /* a NUL anywhere */
    struct mreq r;
    metrics_req_parse("GET /metrics HTTP/1.1\r\nX: \0\r\n\r\n", 31, &r);
    cr_expect_eq(r.action, MREQ_BAD_REQUEST);
}
