/*
 * sasl.c - SASL (-S) on Cyrus SASL, as memcached 1.6.45 sets it up (see
 * sasl.h): library setup with memcached's callbacks, one server context
 * per connection, list-mechs / auth / step, and the MEMCACHED_SASL_PWDB
 * password file.
 */
#include "config.h"

#include "server/sasl.h"

#include "server/auth_file.h"
#include "server/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool mcd_sasl_pwdb_line_matches(const char *line, size_t len, const char *user, const char *pass,
                                size_t plen)
{
    size_t ulen = strlen(user);
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len < ulen + 1 || memcmp(line, user, ulen) != 0 || line[ulen] != ':')
        return false;
    return auth_diff_bytes(line + ulen + 1, len - ulen - 1, pass, plen) == 0;
}

#ifndef HAVE_SASL
/* built without Cyrus SASL: -S cannot start */
int mcd_sasl_setup(void)
{
    fprintf(stderr, "This server is not built with SASL support.\n");
    return -1;
}
void mcd_sasl_teardown(void) {}
void mcd_sasl_conn_free(struct mcd_sasl_conn **c) { (void)c; }
int mcd_sasl_list_mechs(struct mcd_sasl_conn **c, const char **out, size_t *n)
{
    (void)c, (void)out, (void)n;
    return -1;
}
enum mcd_sasl_result mcd_sasl_auth(struct mcd_sasl_conn **c, bool step, const char *mech, size_t nmech,
                                   const char *data, size_t n, const char **out, size_t *outlen)
{
    (void)c, (void)step, (void)mech, (void)nmech, (void)data, (void)n, (void)out, (void)outlen;
    return MCD_SASL_FAIL;
}
#else
#include <pthread.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mcd_sasl_conn {
    sasl_conn_t *conn;
    bool started;               /* the last auth or step asked to continue: a step may follow */
};

static const char *pwdb_path;   /* MEMCACHED_SASL_PWDB, or NULL */
static char hostname[256];
static char conf_dir[4096];

/* Cyrus's password check, through the MEMCACHED_SASL_PWDB file (reread on
 * each check, as memcached does, so edits apply at once). */
static int pwdb_checkpass(sasl_conn_t *conn, void *context, const char *user, const char *pass,
                          unsigned passlen, struct propctx *propctx)
{
    (void)conn;
    (void)context;
    (void)propctx;
    FILE *f = fopen(pwdb_path, "r");
    if (f == NULL) {
        log_msg(LOG_WARN, "WARNING: Failed to open sasl database <%s>", pwdb_path);
        return SASL_NOUSER;
    }
    char line[1024];
    bool ok = false;
    while (fgets(line, sizeof(line), f) != NULL)
        ok |= mcd_sasl_pwdb_line_matches(line, strlen(line), user, pass, passlen);
    fclose(f);
    if (!ok)
        log_msg(LOG_INFO, "INFO: User <%s> failed to authenticate", user);
    return ok ? SASL_OK : SASL_NOAUTHZ;
}

/* Where memcached.conf is: SASL_CONF_PATH, else the first of memcached's
 * two places that holds one. */
static int getconfpath(void *context, char **path)
{
    (void)context;
    const char *env = getenv("SASL_CONF_PATH");
    *path = NULL;
    if (env != NULL) {
        snprintf(conf_dir, sizeof(conf_dir), "%s", env);
        *path = conf_dir;
    } else if (access("/etc/sasl/memcached.conf", F_OK) == 0) {
        *path = strcpy(conf_dir, "/etc/sasl");
    } else if (access("/etc/sasl2/memcached.conf", F_OK) == 0) {
        *path = strcpy(conf_dir, "/etc/sasl2");
    }
    if (*path != NULL)
        log_msg(LOG_INFO, "Reading configuration from: <%s>", *path);
    else
        log_msg(LOG_INFO, "Failed to locate a config path");
    return *path != NULL ? SASL_OK : SASL_FAIL;
}

static int sasl_log_cb(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_NOTE)
        log_msg(LOG_INFO, "SASL (severity %d): %s", level, message);
    return SASL_OK;
}

typedef int (*sasl_cb_fn)(void);

static sasl_callback_t callbacks[] = {
    {SASL_CB_SERVER_USERDB_CHECKPASS, (sasl_cb_fn)(void (*)(void))pwdb_checkpass, NULL},
    {SASL_CB_GETCONFPATH, (sasl_cb_fn)(void (*)(void))getconfpath, NULL},
    {SASL_CB_LOG, (sasl_cb_fn)(void (*)(void))sasl_log_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* Cyrus's own locks, as pthread mutexes: workers run exchanges at once. */
static void *mutex_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (m != NULL)
        pthread_mutex_init(m, NULL);
    return m;
}

static int mutex_lock(void *m)
{
    return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int mutex_unlock(void *m)
{
    return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void mutex_free(void *m)
{
    pthread_mutex_destroy(m);
    free(m);
}

int mcd_sasl_setup(void)
{
    sasl_set_mutex(mutex_alloc, mutex_lock, mutex_unlock, mutex_free);
    pwdb_path = getenv("MEMCACHED_SASL_PWDB");
    if (pwdb_path == NULL) {
        /* as memcached: no callbacks at all, Cyrus's own defaults */
        log_msg(LOG_INFO, "INFO: MEMCACHED_SASL_PWDB not specified. Internal passwd database disabled");
        callbacks[0] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    }
    if (gethostname(hostname, sizeof(hostname) - 1) != 0)
        hostname[0] = '\0';
    if (sasl_server_init(callbacks, "memcached") != SASL_OK) {
        fprintf(stderr, "Error initializing sasl.\n");
        return -1;
    }
    log_msg(LOG_INFO, "Initialized SASL.");
    return 0;
}

void mcd_sasl_teardown(void)
{
    sasl_server_done();
}

void mcd_sasl_conn_free(struct mcd_sasl_conn **c)
{
    if (*c == NULL)
        return;
    if ((*c)->conn != NULL)
        sasl_dispose(&(*c)->conn);
    free(*c);
    *c = NULL;
}

/* The connection's context, created on first use. */
static struct mcd_sasl_conn *get(struct mcd_sasl_conn **c)
{
    if (*c == NULL) {
        *c = calloc(1, sizeof(**c));
        if (*c == NULL)
            return NULL;
    }
    if ((*c)->conn == NULL &&
        /* as memcached: the host name is the user realm (so PLAIN's
         * `alice` is checked as `alice@<hostname>`), no server FQDN */
        sasl_server_new("memcached", NULL, hostname[0] != '\0' ? hostname : NULL, NULL, NULL, NULL, 0,
                        &(*c)->conn) != SASL_OK) {
        log_msg(LOG_INFO, "Failed to initialize SASL conn.");
        (*c)->conn = NULL;
        return NULL;
    }
    return *c;
}

int mcd_sasl_list_mechs(struct mcd_sasl_conn **c, const char **out, size_t *n)
{
    struct mcd_sasl_conn *s = get(c);
    const char *list = NULL;
    unsigned len = 0;
    int count = 0;
    if (s == NULL || sasl_listmech(s->conn, NULL, "", " ", "", &list, &len, &count) != SASL_OK) {
        log_msg(LOG_INFO, "Failed to list SASL mechanisms.");
        return -1;
    }
    *out = list;
    *n = len;
    return 0;
}

enum mcd_sasl_result mcd_sasl_auth(struct mcd_sasl_conn **c, bool step, const char *mech, size_t nmech,
                                   const char *data, size_t n, const char **out, size_t *outlen)
{
    struct mcd_sasl_conn *s = get(c);
    const char *sout = NULL;
    unsigned soutlen = 0;
    int rc;
    char name[MCD_SASL_MECH_MAX + 1];

    *out = NULL;
    *outlen = 0;
    if (s == NULL || nmech > MCD_SASL_MECH_MAX || n > UINT32_MAX)
        return MCD_SASL_FAIL;
    memcpy(name, mech, nmech);
    name[nmech] = '\0';
    if (!step) {
        /* a new exchange on the same context, as memcached: Cyrus drops
         * the mechanism state of the previous one. No bytes is no initial
         * response (PLAIN then asks for one), as memcached passes it. */
        rc = sasl_server_start(s->conn, name, n > 0 ? data : NULL, (unsigned)n, &sout, &soutlen);
    } else if (!s->started) {
        /* Cyrus must not step a context whose exchange is over or never began */
        log_msg(LOG_INFO, "SASL_STEP called but sasl_server_start not called for this connection!");
        return MCD_SASL_FAIL;
    } else {
        rc = sasl_server_step(s->conn, n > 0 ? data : NULL, (unsigned)n, &sout, &soutlen);
    }
    s->started = rc == SASL_CONTINUE;
    switch (rc) {
    case SASL_OK:
        return MCD_SASL_OK;
    case SASL_CONTINUE:
        *out = sout;
        *outlen = soutlen;
        return MCD_SASL_CONTINUE;
    default:
        log_msg(LOG_INFO, "sasl result code:  %d", rc);
        return MCD_SASL_FAIL;
    }
}
#endif /* HAVE_SASL */
