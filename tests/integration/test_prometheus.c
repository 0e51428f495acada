/*
 * test_prometheus.c - a real Prometheus (Debian's prometheus package)
 * scrapes mcd's -o metrics_listen endpoint: the target is up, the page
 * passes `promtool check metrics`, and the commands_total series that
 * Prometheus stored grow by exactly the traffic this test sent; the
 * request latency histograms have monotone buckets whose +Inf bucket and
 * _count equal the requests sent.
 *
 * Exits 77 (skipped) when prometheus or promtool is not installed, or when
 * the server under test is memcached (it has no such endpoint). Everything
 * is polled against deadlines; the run takes a few seconds.
 */
#include "config.h"

#include "tests/integration/http_client.h"
#include "tests/lib/harness.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRAPE_DEADLINE_MS 30000

static int failures;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                                         \
            fputc('\n', stderr);                                                                                  \
            failures++;                                                                                           \
        }                                                                                                         \
    } while (0)

/* name found in $PATH (or the env variable's value), in out; false if not. */
static bool find_tool(const char *env, const char *name, char *out, size_t cap)
{
    const char *e = getenv(env);
    if (e != NULL && *e != '\0') {
        snprintf(out, cap, "%s", e);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", path != NULL ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static pid_t prom_pid;
static char tmpdir[] = "/tmp/mcd-prometheus-XXXXXX";

static void dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (f == NULL)
        return;
    fprintf(stderr, "--- %s ---\n", path);
    while (fgets(line, sizeof(line), f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

static pid_t spawn_prometheus(const char *bin, int port)
{
    char cfg[512], log[512], flag_cfg[600], flag_db[600], flag_web[64];
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", tmpdir);
    snprintf(log, sizeof(log), "%s/prometheus.log", tmpdir);
    snprintf(flag_cfg, sizeof(flag_cfg), "--config.file=%s", cfg);
    snprintf(flag_db, sizeof(flag_db), "--storage.tsdb.path=%s/data", tmpdir);
    snprintf(flag_web, sizeof(flag_web), "--web.listen-address=127.0.0.1:%d", port);
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execl(bin, bin, flag_cfg, flag_db, flag_web, "--log.level=warn", (char *)NULL);
    _exit(127);
}

/* %-encodes a PromQL expression for a query string. */
static void urlencode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s != '\0' && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '_' || c == '.' || c == '-') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* The instant query's JSON (malloc'd), or NULL. */
static char *prom_query_json(int port, const char *promql)
{
    char enc[2048], path[2100];
    urlencode(promql, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/v1/query?query=%s", enc);
    return http_get(port, path, 200, 5000);
}

/* The value of the first series of an instant query; false when the
 * result is empty. */
static bool prom_query(int port, const char *promql, double *v)
{
    char *j = prom_query_json(port, promql);
    const char *at = j != NULL ? strstr(j, "\"value\":[") : NULL;
    at = at != NULL ? strstr(at, ",\"") : NULL;
    bool ok = at != NULL;
    if (ok)
        *v = strtod(at + 2, NULL);
    free(j);
    return ok;
}

/* Polls until promql's value is want (within 1e-9), up to the deadline. */
static bool prom_wait_value(int port, const char *promql, double want)
{
    long long deadline = mcd_now_ms() + SCRAPE_DEADLINE_MS;
    double v = -1;
    while (mcd_now_ms() < deadline) {
        if (prom_query(port, promql, &v) && v > want - 1e-9 && v < want + 1e-9)
            return true;
        mcd_poll_pause();
    }
    fprintf(stderr, "%s: last value %g, expected %g\n", promql, v, want);
    return false;
}

static bool promtool_accepts(const char *promtool, const char *page)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "%s check metrics", promtool);
    FILE *p = popen(cmd, "w");
    if (p == NULL)
        return false;
    fputs(page, p);
    int st = pclose(p);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Sends sets + 1 sets, hits get hits (half of them of the key "hot") and
 * misses get misses, and checks each reply. */
static void drive(struct mcd_conn *c, int sets, int hits, int misses)
{
    char req[128];
    for (int i = 0; i < sets; i++) {
        snprintf(req, sizeof(req), "set key%d 0 0 5\r\nvalue\r\n", i);
        CHECK(mcd_roundtrip(c, req, "STORED\r\n"), "set %d", i);
    }
    CHECK(mcd_roundtrip(c, "set hot 0 0 5\r\nvalue\r\n", "STORED\r\n"), "set hot");
    for (int i = 0; i < hits; i++) {
        /* every other get asks for the same key: a hot key */
        if (i % 2 == 0)
            snprintf(req, sizeof(req), "get hot\r\n");
        else
            snprintf(req, sizeof(req), "get key%d\r\n", i % sets);
        CHECK(mcd_roundtrip(c, req, "VALUE {str}\r\nvalue\r\nEND\r\n"), "get hit %d", i);
    }
    for (int i = 0; i < misses; i++) {
        snprintf(req, sizeof(req), "get nokey%d\r\n", i);
        CHECK(mcd_roundtrip(c, req, "END\r\n"), "get miss %d", i);
    }
}

/* The histogram of command `cmd` as Prometheus stored it: buckets sorted
 * by le are non-decreasing, +Inf equals _count equals want. */
static void check_histogram(int port, const char *cmd, double want)
{
    char q[256];
    snprintf(q, sizeof(q), "memcached_request_duration_seconds_count{command=\"%s\"}", cmd);
    CHECK(prom_wait_value(port, q, want), "%s _count", cmd);
    snprintf(q, sizeof(q), "memcached_request_duration_seconds_bucket{command=\"%s\"}", cmd);
    char *j = prom_query_json(port, q);
    CHECK(j != NULL, "query %s", q);
    if (j == NULL)
        return;
    /* (le, value) pairs; le "+Inf" sorts last */
    double le[256], val[256];
    size_t n = 0;
    for (const char *p = j; n < 256 && (p = strstr(p, "\"le\":\"")) != NULL;) {
        p += 6;
        le[n] = strncmp(p, "+Inf", 4) == 0 ? 1e300 : strtod(p, NULL);
        const char *v = strstr(p, "\"value\":[");
        v = v != NULL ? strstr(v, ",\"") : NULL;
        if (v == NULL)
            break;
        val[n++] = strtod(v + 2, NULL);
    }
    free(j);
    CHECK(n >= 2, "%s: %zu buckets", cmd, n);
    for (size_t i = 1; i < n; i++) /* insertion sort by le */
        for (size_t k = i; k > 0 && le[k] < le[k - 1]; k--) {
            double t = le[k];
            le[k] = le[k - 1];
            le[k - 1] = t;
            t = val[k];
            val[k] = val[k - 1];
            val[k - 1] = t;
        }
    for (size_t i = 1; i < n; i++)
        CHECK(val[i] >= val[i - 1], "%s: bucket le=%g (%g) < le=%g (%g)", cmd, le[i], val[i], le[i - 1], val[i - 1]);
    if (n > 0) {
        CHECK(le[n - 1] == 1e300, "%s: no +Inf bucket", cmd);
        CHECK(val[n - 1] == want, "%s: +Inf bucket %g, expected %g", cmd, val[n - 1], want);
    }
}

int main(void)
{
    char prometheus[1024], promtool[1024];
    if (mcd_target_is_memcached()) {
        printf("SKIP: memcached has no metrics endpoint\n");
        return 77;
    }
    if (!find_tool("PROMETHEUS_BIN", "prometheus", prometheus, sizeof(prometheus)) ||
        !find_tool("PROMTOOL_BIN", "promtool", promtool, sizeof(promtool))) {
        printf("SKIP: prometheus or promtool is not installed (Debian: apt-get install prometheus)\n");
        return 77;
    }

    struct mcd_server *srv = NULL;
    int mport = -1;
    for (int tries = 0; srv == NULL && tries < 3; tries++) {
        char opt[64];
        mport = http_free_port();
        snprintf(opt, sizeof(opt), "metrics_listen=127.0.0.1:%d", mport);
        const char *extra[] = {"-o", opt, NULL};
        srv = mcd_start(extra);
    }
    if (srv == NULL) {
        fprintf(stderr, "FAIL: mcd with -o metrics_listen did not start\n");
        return 1;
    }
    char *page = http_get(mport, "/metrics", 200, 5000);
    CHECK(page != NULL, "GET /metrics");
    CHECK(page != NULL && promtool_accepts(promtool, page), "promtool check metrics refuses the page:\n%s",
          page != NULL ? page : "");
    free(page);

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    int pport = http_free_port();
    char path[600];
    snprintf(path, sizeof(path), "%s/prometheus.yml", tmpdir);
    FILE *cfg = fopen(path, "w");
    if (cfg == NULL)
        return 99;
    fprintf(cfg,
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: mcd\n"
            "    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n"
            "    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            mport);
    fclose(cfg);
    prom_pid = spawn_prometheus(prometheus, pport);

    /* ready, then the target up */
    long long deadline = mcd_now_ms() + SCRAPE_DEADLINE_MS;
    char *ready = NULL;
    while (ready == NULL && mcd_now_ms() < deadline && waitpid(prom_pid, NULL, WNOHANG) == 0) {
        ready = http_get(pport, "/-/ready", 200, 1000);
        if (ready == NULL)
            mcd_poll_pause();
    }
    CHECK(ready != NULL, "prometheus never became ready");
    free(ready);
    CHECK(prom_wait_value(pport, "up{job=\"mcd\"}", 1), "the mcd target is not up");
    CHECK(prom_wait_value(pport, "memcached_up", 1), "memcached_up");
    /* a scrape from before the traffic: the increase below is exact */
    CHECK(prom_wait_value(pport, "memcached_commands_total{command=\"get\",status=\"hit\"}", 0), "baseline");

    struct mcd_conn *c = mcd_conn_open(srv);
    CHECK(c != NULL, "connect");
    enum { SETS = 40, HITS = 400, MISSES = 20 };
    if (c != NULL)
        drive(c, SETS, HITS, MISSES);

    CHECK(prom_wait_value(pport, "memcached_commands_total{command=\"get\",status=\"hit\"}", HITS), "get hits");
    /* what was stored is what was sent: the increase over the window */
    static const struct {
        const char *series;
        double want;
    } incr[] = {
        {"memcached_commands_total{command=\"get\",status=\"hit\"}", HITS},
        {"memcached_commands_total{command=\"get\",status=\"miss\"}", MISSES},
        {"memcached_commands_total{command=\"set\",status=\"hit\"}", SETS + 1},
        {"memcached_commands_total{command=\"delete\",status=\"hit\"}", 0},
    };
    for (size_t i = 0; i < sizeof(incr) / sizeof(incr[0]); i++) {
        char q[512];
        snprintf(q, sizeof(q), "max_over_time(%s[5m]) - min_over_time(%s[5m])", incr[i].series, incr[i].series);
        CHECK(prom_wait_value(pport, q, incr[i].want), "increase of %s", incr[i].series);
    }
    CHECK(prom_wait_value(pport, "memcached_current_items", SETS + 1), "current_items");
    CHECK(prom_wait_value(pport, "sum(memcached_slab_current_items)", SETS + 1), "slab current_items");
    CHECK(prom_wait_value(pport, "count(memcached_version{version=\"1.6.45\"})", 1), "version");

    check_histogram(pport, "get", HITS + MISSES);
    check_histogram(pport, "set", SETS + 1);
    /* 3000 more gets of "hot" (gets are sampled one in 64): it leads the hot keys */
    for (int i = 0; c != NULL && i < 3000; i++)
        CHECK(mcd_roundtrip(c, "get hot\r\n", "VALUE hot 0 5\r\nvalue\r\nEND\r\n"), "hot get %d", i);
    CHECK(prom_wait_value(pport, "topk(1, memcached_hotkey_requests) > bool 0 and on(key) "
                                 "memcached_hotkey_requests{key=\"hot\"}", 1), "the hot key");

    if (failures > 0) {
        snprintf(path, sizeof(path), "%s/prometheus.log", tmpdir);
        dump_file(path);
    }
    mcd_conn_close(c);
    kill(prom_pid, SIGTERM);
    int st;
    deadline = mcd_now_ms() + 10000;
    while (waitpid(prom_pid, &st, WNOHANG) == 0) {
        if (mcd_now_ms() > deadline) {
            kill(prom_pid, SIGKILL);
            waitpid(prom_pid, &st, 0);
            break;
        }
        mcd_poll_pause();
    }
    char rm[600];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", tmpdir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    mcd_stop(srv);
    printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
