/*
 * metrics_page.c - builds the /metrics page (see metrics_page.h).
 *
 * The page is read the way memcached_exporter reads memcached: the lines of
 * `stats`, `stats settings`, `stats items` and `stats slabs` are collected
 * through stats_group() into name/value tables, then each metric of
 * metrics.def is written from its line. So a counter is summed over the
 * threads by stats.c alone, and `stats reset` moves the metrics exactly as
 * it moves the `stats` lines (the exporter shows the same).
 *
 * Then mcd's own: the latency histograms (latency.h's snapshot, summed over
 * the threads) as memcached_request_duration_seconds, and the current hot
 * keys (hotkeys.h) as memcached_hotkey_requests.
 */
#include "config.h"

#include "server/metrics_page.h"

#include "server/hotkeys.h"
#include "server/latency.h"
#include "server/metrics_expo.h"
#include "server/settings.h"
#include "server/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "memcached_"

struct kv {
    char *name;
    char *value;
};

/* The lines of one stats group. */
struct kvs {
    struct kv *v;
    size_t n, cap;
    bool oom;
};

static void kvs_emit(void *ctx, const char *name, const char *value)
{
    struct kvs *t = ctx;
    if (t->oom)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap != 0 ? 2 * t->cap : 128;
        struct kv *v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL) {
            t->oom = true;
            return;
        }
        t->v = v;
        t->cap = cap;
    }
    char *n = strdup(name), *val = strdup(value);
    if (n == NULL || val == NULL) {
        free(n);
        free(val);
        t->oom = true;
        return;
    }
    t->v[t->n++] = (struct kv){n, val};
}

static void kvs_free(struct kvs *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].value);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static bool kvs_collect(struct kvs *t, const char *group)
{
    memset(t, 0, sizeof(*t));
    return stats_group(group, strlen(group), kvs_emit, t) == STATS_GROUP_OK && !t->oom;
}

static const char *kvs_get(const struct kvs *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return t->v[i].value;
    return NULL;
}

/* A stats value as a number: decimal digits, a decimal fraction
 * ("1.250000", rusage), or yes/no (1/0). Anything else is not a number. */
static bool parse_value(const char *s, double *d, uint64_t *u, bool *is_int)
{
    if (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0) {
        *u = s[0] == 'y';
        *d = (double)*u;
        *is_int = true;
        return true;
    }
    size_t digits = strspn(s, "0123456789");
    if (digits == 0)
        return false;
    char *end;
    errno = 0;
    if (s[digits] == '\0') {
        *u = strtoull(s, &end, 10);
        *d = (double)*u;
        *is_int = true;
        return errno == 0;
    }
    if (s[digits] != '.' || s[digits + 1 + strspn(s + digits + 1, "0123456789")] != '\0')
        return false;
    *d = strtod(s, &end);
    *is_int = false;
    return true;
}

static uint64_t kvs_u64(const struct kvs *t, const char *name)
{
    const char *s = kvs_get(t, name);
    double d;
    uint64_t u;
    bool is_int;
    if (s == NULL || !parse_value(s, &d, &u, &is_int))
        return 0;
    return is_int ? u : (uint64_t)d;
}

static void sample_str(struct expo_buf *b, const char *name, const struct expo_label *l, size_t nl, const char *s)
{
    double d;
    uint64_t u;
    bool is_int;
    if (!parse_value(s, &d, &u, &is_int))
        return;
    if (s[0] == 'y' || s[0] == 'n')
        expo_sample_u64(b, name, l, nl, u);
    else
        expo_sample_num(b, name, l, nl, s); /* digits[.digits]: as `stats` prints it */
}

/* A family whose HELP/TYPE lines are written before its first sample only,
 * so a metric with no sample (no class in use) leaves no empty family. */
struct family {
    char name[96];
    const char *type;
    const char *help;
    bool started;
};

static void family_init(struct family *f, const char *metric, const char *type, const char *help)
{
    snprintf(f->name, sizeof(f->name), NS "%s", metric);
    f->type = type;
    f->help = help;
    f->started = false;
}

static void family_start(struct expo_buf *b, struct family *f)
{
    if (!f->started)
        expo_family(b, f->name, f->type, f->help);
    f->started = true;
}

static void write_stat(struct expo_buf *b, const struct kvs *t, const char *metric, const char *type,
                       const char *stat, const char *help)
{
    const char *s = kvs_get(t, stat);
    double d;
    uint64_t u;
    bool is_int;
    if (s == NULL || !parse_value(s, &d, &u, &is_int))
        return;
    struct family f;
    family_init(&f, metric, type, help);
    family_start(b, &f);
    sample_str(b, f.name, NULL, 0, s);
}

/*
 * A per-class line: "items:N:field" (prefix "items:") or "N:field" (prefix
 * ""). Returns the field and stores the class, or NULL when name is not one.
 */
static const char *class_field(const char *name, const char *prefix, char *cls, size_t cls_cap)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return NULL;
    name += pl;
    size_t digits = strspn(name, "0123456789");
    if (digits == 0 || digits >= cls_cap || name[digits] != ':')
        return NULL;
    memcpy(cls, name, digits);
    cls[digits] = '\0';
    return name + digits + 1;
}

/* One family with a sample per class whose `field` line is in t. */
static void write_per_class(struct expo_buf *b, const struct kvs *t, const char *prefix, const char *metric,
                            const char *type, const char *field, const char *help)
{
    struct family f;
    family_init(&f, metric, type, help);
    for (size_t i = 0; i < t->n; i++) {
        char cls[16];
        const char *fl = class_field(t->v[i].name, prefix, cls, sizeof(cls));
        if (fl == NULL || strcmp(fl, field) != 0)
            continue;
        struct expo_label l = {"slab", cls, strlen(cls)};
        family_start(b, &f);
        sample_str(b, f.name, &l, 1, t->v[i].value);
    }
}

static uint64_t minus(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static void command_sample(struct expo_buf *b, const char *name, const char *slab, const char *cmd,
                           const char *status, uint64_t v)
{
    struct expo_label l[3];
    size_t n = 0;
    if (slab != NULL)
        l[n++] = (struct expo_label){"slab", slab, strlen(slab)};
    l[n++] = (struct expo_label){"command", cmd, strlen(cmd)};
    l[n++] = (struct expo_label){"status", status, strlen(status)};
    expo_sample_u64(b, name, l, n, v);
}

static const char *const hit_miss_ops[] = {"get", "delete", "incr", "decr", "cas", "touch"};

/* memcached_commands_total{command,status}, as the exporter derives it:
 * <op>_hits / <op>_misses, cas_badval, cmd_flush; set is cmd_set less the
 * cas commands (memcached counts those in cmd_set too). */
static void write_commands(struct expo_buf *b, const struct kvs *g)
{
    const char *name = NS "commands_total";
    expo_family(b, name, "counter",
                "Total number of all requests broken down by command (get, set, etc.) and status.");
    char stat[32];
    for (size_t i = 0; i < sizeof(hit_miss_ops) / sizeof(hit_miss_ops[0]); i++) {
        snprintf(stat, sizeof(stat), "%s_hits", hit_miss_ops[i]);
        command_sample(b, name, NULL, hit_miss_ops[i], "hit", kvs_u64(g, stat));
        snprintf(stat, sizeof(stat), "%s_misses", hit_miss_ops[i]);
        command_sample(b, name, NULL, hit_miss_ops[i], "miss", kvs_u64(g, stat));
    }
    command_sample(b, name, NULL, "cas", "badval", kvs_u64(g, "cas_badval"));
    command_sample(b, name, NULL, "flush", "hit", kvs_u64(g, "cmd_flush"));
    uint64_t cas = kvs_u64(g, "cas_misses") + kvs_u64(g, "cas_hits") + kvs_u64(g, "cas_badval");
    command_sample(b, name, NULL, "set", "hit", minus(kvs_u64(g, "cmd_set"), cas));
}

/* The value of "N:field" in `stats slabs`, 0 when absent. */
static uint64_t slab_u64(const struct kvs *s, const char *cls, const char *field)
{
    char name[64];
    snprintf(name, sizeof(name), "%s:%s", cls, field);
    return kvs_u64(s, name);
}

/* memcached_slab_commands_total{slab,command,status}: the per-class hits of
 * `stats slabs` (a class has no misses: a miss finds no item). */
static void write_slab_commands(struct expo_buf *b, const struct kvs *s)
{
    struct family f;
    family_init(&f, "slab_commands_total", "counter",
                "Total number of all requests broken down by command (get, set, etc.) and status per slab.");
    for (size_t i = 0; i < s->n; i++) {
        char cls[16];
        const char *fl = class_field(s->v[i].name, "", cls, sizeof(cls));
        if (fl == NULL || strcmp(fl, "chunk_size") != 0)
            continue;
        family_start(b, &f);
        char field[32];
        for (size_t k = 0; k < sizeof(hit_miss_ops) / sizeof(hit_miss_ops[0]); k++) {
            snprintf(field, sizeof(field), "%s_hits", hit_miss_ops[k]);
            command_sample(b, f.name, cls, hit_miss_ops[k], "hit", slab_u64(s, cls, field));
        }
        uint64_t badval = slab_u64(s, cls, "cas_badval");
        command_sample(b, f.name, cls, "cas", "badval", badval);
        command_sample(b, f.name, cls, "set", "hit",
                       minus(slab_u64(s, cls, "cmd_set"), slab_u64(s, cls, "cas_hits") + badval));
    }
}

/* memcached_slab_lru_hits_total{slab,lru} from items:N:hits_to_<lru>. */
static void write_lru_hits(struct expo_buf *b, const struct kvs *t)
{
    static const struct {
        const char *field, *lru;
    } lrus[] = {{"hits_to_hot", "hot"}, {"hits_to_warm", "warm"}, {"hits_to_cold", "cold"},
                {"hits_to_temp", "temporary"}};
    struct family f;
    family_init(&f, "slab_lru_hits_total", "counter", "Number of get_hits to the LRU.");
    for (size_t i = 0; i < t->n; i++) {
        char cls[16];
        const char *fl = class_field(t->v[i].name, "items:", cls, sizeof(cls));
        if (fl == NULL)
            continue;
        for (size_t k = 0; k < sizeof(lrus) / sizeof(lrus[0]); k++) {
            if (strcmp(fl, lrus[k].field) != 0)
                continue;
            struct expo_label l[2] = {{"slab", cls, strlen(cls)}, {"lru", lrus[k].lru, strlen(lrus[k].lru)}};
            family_start(b, &f);
            sample_str(b, f.name, l, 2, t->v[i].value);
        }
    }
}

/* The `le` bounds of memcached_request_duration_seconds, in ns: the
 * client libraries' default buckets, extended down to a microsecond (a
 * cache answers in microseconds). obs's histograms have ~1000 buckets per
 * command; each bound here counts the buckets wholly below it. */
static const uint64_t duration_le_ns[] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
    1000000000, 2500000000u, 5000000000u, 10000000000u,
};
#define DURATION_NLE (sizeof(duration_le_ns) / sizeof(duration_le_ns[0]))

/* memcached_request_duration_seconds{command}: every command obs measures,
 * from request parsed to reply queued (see latency.h). */
static void write_durations(struct expo_buf *b)
{
    if (!latency_enabled)
        return;
    struct latency_snapshot *snap = malloc(sizeof(*snap)); /* ~170 KB */
    if (snap == NULL) {
        b->oom = true;
        return;
    }
    latency_snapshot(snap);
    const char *name = NS "request_duration_seconds";
    expo_family(b, name, "histogram",
                "Time from a request parsed to its reply queued, by command, measured inside the server.");
    for (int c = 0; c < LAT__COUNT; c++) {
        const struct latency_cmd_snap *s = &snap->cmd[c];
        uint64_t counts[DURATION_NLE], below = 0;
        for (size_t i = 0; i < DURATION_NLE; i++) {
            uint64_t le = latency_count_le(s, duration_le_ns[i]);
            counts[i] = le - below;
            below = le;
        }
        const char *cmd = latency_cmd_name((enum latency_cmd)c);
        struct expo_label l = {"command", cmd, strlen(cmd)};
        expo_histogram(b, name, &l, 1, duration_le_ns, counts, DURATION_NLE, s->count - below, (double)s->sum_ns,
                       1e9);
    }
    free(snap);
}

/* memcached_hotkey_requests{key}: the current top HOTKEYS_DEFAULT keys (a
 * key sent base64-encoded to meta, b flag, has binary="1" too: it is
 * another key than the same bytes sent plain). */
static void write_hotkeys(struct expo_buf *b)
{
    if (!settings.hotkeys)
        return;
    struct hotkey top[HOTKEYS_DEFAULT];
    size_t n = hotkeys_top(top, HOTKEYS_DEFAULT);
    const char *name = NS "hotkey_requests";
    expo_family(b, name, "gauge",
                "Estimated gets of one of the most requested keys over the recent window (sampled; counts halve "
                "every " SETTINGS_XSTR(HOTKEYS_HALF_LIFE) " s).");
    for (size_t i = 0; i < n; i++) {
        struct expo_label l[2] = {{"key", top[i].key, top[i].nkey}, {"binary", "1", 1}};
        expo_sample_u64(b, name, l, top[i].binary ? 2 : 1, top[i].count);
    }
}

bool metrics_page_write(struct expo_buf *b)
{
    struct kvs g, st, items, slabs;
    bool ok = kvs_collect(&g, "") & kvs_collect(&st, "settings") & kvs_collect(&items, "items") &
              kvs_collect(&slabs, "slabs");

    expo_family(b, NS "up", "gauge", "Could the memcached server be reached.");
    expo_sample_u64(b, NS "up", NULL, 0, ok ? 1 : 0);
    const char *version = kvs_get(&g, "version");
    if (version != NULL) {
        struct expo_label l = {"version", version, strlen(version)};
        expo_family(b, NS "version", "gauge", "The version of this memcached server.");
        expo_sample_u64(b, NS "version", &l, 1, 1);
    }
    write_commands(b, &g);

#define M_STAT(metric, type, stat, help) write_stat(b, &g, metric, type, stat, help);
#define M_SETTING(metric, type, stat, help) write_stat(b, &st, metric, type, stat, help);
#define M_MALLOCED(metric, type, stat, help) write_stat(b, &slabs, metric, type, stat, help);
#define M_ITEM(metric, type, field, help) write_per_class(b, &items, "items:", metric, type, field, help);
#define M_SLAB(metric, type, field, help) write_per_class(b, &slabs, "", metric, type, field, help);
#include "server/metrics.def"
    write_lru_hits(b, &items);
    write_slab_commands(b, &slabs);
    write_durations(b);
    write_hotkeys(b);

    kvs_free(&g);
    kvs_free(&st);
    kvs_free(&items);
    kvs_free(&slabs);
    return !b->oom;
}
