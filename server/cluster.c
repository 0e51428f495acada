/*
 * cluster.c - the node list of `-o cluster_config=FILE` (cluster.h).
 *
 * Owns the path, the current node list (already joined as ElastiCache
 * prints it: "host|ip|port" entries separated by spaces) and its version.
 * The main thread re-reads the file on SIGHUP; workers copy the list out
 * when a client sends `config get cluster`, which clients do once a
 * minute or so: a mutex guards the two, and no other command takes it.
 */
#include "config.h"

#include "server/cluster.h"

#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER_FIELD_MAX 255

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *path;        /* NULL: not configured */
static char *nodes;       /* "host|ip|port host|ip|port" */
static uint64_t version;

/* Appends s to the growing string *buf (len *n, capacity *cap). */
static int append(char **buf, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        while (c < *n + len + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *n, s, len);
    *n += len;
    (*buf)[*n] = '\0';
    return 0;
}

/* One line's "host ip port" as "host|ip|port" appended to the list; 0 for
 * a blank or comment line, 1 for a node, -1 when malformed. */
static int parse_line(char *line, char **buf, size_t *n, size_t *cap)
{
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *f[4];
    int nf = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (nf == 4)
            return -1;
        f[nf++] = t;
    }
    if (nf == 0)
        return 0;
    if (nf != 3 || strlen(f[0]) > CLUSTER_FIELD_MAX || strlen(f[1]) > CLUSTER_FIELD_MAX || strchr(f[0], '|') ||
        strchr(f[1], '|'))
        return -1;
    char *end;
    errno = 0;
    unsigned long port = strtoul(f[2], &end, 10);
    if (!isdigit((unsigned char)f[2][0]) || *end != '\0' || errno != 0 || port == 0 || port > 65535)
        return -1;
    char entry[2 * CLUSTER_FIELD_MAX + 16];
    int len = snprintf(entry, sizeof(entry), "%s%s|%s|%lu", *n > 0 ? " " : "", f[0], f[1], port);
    if (len < 0 || (size_t)len >= sizeof(entry) || append(buf, n, cap, entry, (size_t)len) != 0)
        return -1;
    return 1;
}

/* The node list of the file at p, malloc'd ("" for none), or NULL
 * (logged). */
static char *read_nodes(const char *p)
{
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        log_warn_errno("cannot read the cluster config %s", p);
        return NULL;
    }
    char *buf = NULL, line[1024];
    size_t n = 0, cap = 0;
    unsigned lineno = 0;
    int bad = 0;
    if (append(&buf, &n, &cap, "", 0) != 0)
        bad = -1;
    while (bad == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            bad = 1;
            break;
        }
        if (parse_line(line, &buf, &n, &cap) < 0)
            bad = 1;
    }
    if (bad == 0 && ferror(f))
        bad = -1;
    fclose(f);
    if (bad != 0) {
        if (bad > 0)
            log_msg(LOG_ERROR, "cluster config %s, line %u: want \"host ip port\"", p, lineno);
        else
            log_msg(LOG_ERROR, "cannot read the cluster config %s", p);
        free(buf);
        return NULL;
    }
    return buf;
}

int cluster_setup(const char *p)
{
    if (p == NULL)
        return 0;
    char *list = read_nodes(p);
    char *pc = strdup(p);
    if (list == NULL || pc == NULL) {
        free(list);
        free(pc);
        return -1;
    }
    pthread_mutex_lock(&lock);
    free(path);
    free(nodes);
    path = pc;
    nodes = list;
    version = 1;
    pthread_mutex_unlock(&lock);
    return 0;
}

void cluster_teardown(void)
{
    pthread_mutex_lock(&lock);
    free(path);
    free(nodes);
    path = nodes = NULL;
    version = 0;
    pthread_mutex_unlock(&lock);
}

int cluster_reload(void)
{
    pthread_mutex_lock(&lock);
    char *p = path != NULL ? strdup(path) : NULL;
    pthread_mutex_unlock(&lock);
    if (p == NULL)
        return 0;
    char *list = read_nodes(p);
    free(p);
    if (list == NULL)
        return -1; /* logged; the old list stays */
    pthread_mutex_lock(&lock);
    if (nodes != NULL && strcmp(nodes, list) == 0) {
        free(list);
    } else {
        free(nodes);
        nodes = list;
        version++;
        log_msg(LOG_INFO, "cluster config version %" PRIu64 ": %s", version, nodes);
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

bool cluster_enabled(void)
{
    pthread_mutex_lock(&lock);
    bool on = nodes != NULL;
    pthread_mutex_unlock(&lock);
    return on;
}

char *cluster_body(size_t *len)
{
    char *out = NULL;
    pthread_mutex_lock(&lock);
    if (nodes != NULL) {
        size_t n = strlen(nodes) + 24;
        out = malloc(n);
        if (out != NULL) {
            int w = snprintf(out, n, "%" PRIu64 "\n%s\n", version, nodes);
            *len = w > 0 ? (size_t)w : 0;
        }
    }
    pthread_mutex_unlock(&lock);
    return out;
}

uint64_t cluster_version(void)
{
    pthread_mutex_lock(&lock);
    uint64_t v = version;
    pthread_mutex_unlock(&lock);
    return v;
}
