/*
 * catalog.c - cache-aside and write-through in C: libmemcached in front of
 * PostgreSQL (libpq), on examples/schema.sql's product catalogue.
 *
 *   catalog [-s host:port] [-d conninfo] get TENANT ID...
 *   catalog [-s host:port] [-d conninfo] set-price TENANT ID CENTS
 *
 * get prints each product as a JSON line: from mcd when it holds the row,
 * else from the database, storing it in mcd with add (a newer row a writer
 * stored meanwhile wins). set-price updates the database, commits, then
 * stores the new row in mcd (write-through), so no later read sees the old
 * price. The database connection is opened only when a row is missing.
 * Keys and rows are those of examples/python and examples/php: the three
 * share one cache. Exit 0 on success, 1 on an error, 2 on bad usage.
 */
#include <libmemcached/memcached.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_TTL 300 /* seconds a cached row lives without a write */

static const char *conninfo = "";
static PGconn *db;

/* The connection, opened on first use; NULL (reported) if it fails. */
static PGconn *db_get(void)
{
    if (db == NULL) {
        db = PQconnectdb(conninfo);
        if (PQstatus(db) != CONNECTION_OK) {
            fprintf(stderr, "catalog: database: %s", PQerrorMessage(db));
            PQfinish(db);
            db = NULL;
        }
    }
    return db;
}

static void row_key(char *key, size_t cap, const char *tenant, const char *id)
{
    snprintf(key, cap, "tenant:%s:product:%s", tenant, id);
}

/* The row as one JSON line; names hold no quote or backslash here, and
 * anything else is dropped rather than escaped, to keep the example short. */
static int row_json(char *out, size_t cap, const char *tenant, const char *id, const char *name,
                    const char *cents)
{
    char clean[256];
    size_t n = 0;
    for (const char *p = name; *p != '\0' && n + 1 < sizeof(clean); p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            clean[n++] = *p;
    clean[n] = '\0';
    int len = snprintf(out, cap, "{\"tenant\":%s,\"id\":%s,\"name\":\"%s\",\"price_cents\":%s}", tenant,
                       id, clean, cents);
    return len > 0 && (size_t)len < cap ? len : -1;
}

/* Cache-aside read of one row: prints it, 0; -1 on an error or no row. */
static int get_row(memcached_st *mc, const char *tenant, const char *id)
{
    char key[128], json[512];
    size_t vlen;
    uint32_t flags;
    memcached_return_t rc;

    row_key(key, sizeof(key), tenant, id);
    char *cached = memcached_get(mc, key, strlen(key), &vlen, &flags, &rc);
    if (cached != NULL) {
        printf("%.*s\n", (int)vlen, cached);
        free(cached);
        return 0;
    }
    if (rc != MEMCACHED_NOTFOUND) /* the cache is down: serve from the database */
        fprintf(stderr, "catalog: cache: %s\n", memcached_strerror(mc, rc));
    PGconn *conn = db_get();
    if (conn == NULL)
        return -1;
    const char *params[2] = {tenant, id};
    PGresult *res = PQexecParams(conn, "SELECT name, price_cents FROM products WHERE tenant = $1 AND id = $2",
                                 2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    int len = ok ? row_json(json, sizeof(json), tenant, id, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) : -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "catalog: %s", PQerrorMessage(conn));
    PQclear(res);
    if (len < 0)
        return -1;
    memcached_add(mc, key, strlen(key), json, (size_t)len, ROW_TTL, 0);
    printf("%s\n", json);
    return 0;
}

/* Write-through: the database (committed), then the cache. */
static int set_price(memcached_st *mc, const char *tenant, const char *id, const char *cents)
{
    char key[128], json[512];
    PGconn *conn = db_get();
    if (conn == NULL)
        return -1;
    const char *params[3] = {cents, tenant, id};
    PGresult *res = PQexecParams(conn,
                                 "UPDATE products SET price_cents = $1 WHERE tenant = $2 AND id = $3 RETURNING name",
                                 3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    int len = ok ? row_json(json, sizeof(json), tenant, id, PQgetvalue(res, 0, 0), cents) : -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "catalog: %s", PQerrorMessage(conn));
    PQclear(res); /* autocommit: the update is committed here */
    if (len < 0)
        return -1;
    row_key(key, sizeof(key), tenant, id);
    memcached_return_t rc = memcached_set(mc, key, strlen(key), json, (size_t)len, ROW_TTL, 0);
    if (rc != MEMCACHED_SUCCESS) {
        /* a failed set must not leave the old row readable */
        memcached_delete(mc, key, strlen(key), 0);
        fprintf(stderr, "catalog: cache: %s\n", memcached_strerror(mc, rc));
    }
    printf("%s\n", json);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: catalog [-s host:port] [-d conninfo] get TENANT ID...\n"
                    "       catalog [-s host:port] [-d conninfo] set-price TENANT ID CENTS\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1:11211";
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-s") == 0)
            server = argv[i + 1];
        else if (strcmp(argv[i], "-d") == 0)
            conninfo = argv[i + 1];
        else
            return usage();
    }
    if (argc - i < 3)
        return usage();
    int is_get = strcmp(argv[i], "get") == 0;
    if (!is_get && (strcmp(argv[i], "set-price") != 0 || argc - i != 4))
        return usage();

    char host[256];
    const char *colon = strrchr(server, ':');
    if (colon == NULL || (size_t)(colon - server) >= sizeof(host))
        return usage();
    snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
    memcached_st *mc = memcached_create(NULL);
    memcached_server_add(mc, host, (in_port_t)atoi(colon + 1));

    int rc = 0;
    if (is_get) {
        for (int k = i + 2; k < argc; k++)
            if (get_row(mc, argv[i + 1], argv[k]) != 0)
                rc = 1;
    } else {
        rc = set_price(mc, argv[i + 1], argv[i + 2], argv[i + 3]) != 0;
    }
    memcached_free(mc);
    if (db != NULL)
        PQfinish(db);
    return rc;
}
