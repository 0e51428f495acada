/*
 * ops_ketama.c - libmemcached client-side consistent hashing (ketama)
 * over several mcd instances: stores N keys, reads them back, and prints
 * how many keys each server holds by libmemcached's own mapping.
 * Usage: ops_ketama [-b] N PORT...   (-b: binary protocol)
 * Run by ops-ketama.sh, which starts the servers and checks their stats.
 */
#include "config.h"

#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int arg = 1;
    bool binary = false;
    if (arg < argc && strcmp(argv[arg], "-b") == 0) {
        binary = true;
        arg++;
    }
    if (argc - arg < 2) {
        fprintf(stderr, "usage: ops_ketama [-b] N PORT...\n");
        return 2;
    }
    int n = atoi(argv[arg++]);
    memcached_st *mc = memcached_create(NULL);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, binary);
    for (; arg < argc; arg++)
        memcached_server_add(mc, "127.0.0.1", (in_port_t)atoi(argv[arg]));

    unsigned nservers = memcached_server_count(mc);
    unsigned *per = calloc(nservers, sizeof(*per));
    const char *prefix = binary ? "bin" : "txt";
    for (int i = 0; i < n; i++) {
        char key[64], val[64];
        int kl = snprintf(key, sizeof(key), "%s:key:%d", prefix, i);
        int vl = snprintf(val, sizeof(val), "value-%d", i);
        memcached_return_t rc = memcached_set(mc, key, (size_t)kl, val, (size_t)vl, 0, 0);
        if (rc != MEMCACHED_SUCCESS) {
            fprintf(stderr, "set %s: %s\n", key, memcached_strerror(mc, rc));
            return 1;
        }
        per[memcached_generate_hash(mc, key, (size_t)kl)]++;
    }
    for (int i = 0; i < n; i++) {
        char key[64], want[64];
        int kl = snprintf(key, sizeof(key), "%s:key:%d", prefix, i);
        snprintf(want, sizeof(want), "value-%d", i);
        size_t len;
        uint32_t flags;
        memcached_return_t rc;
        char *v = memcached_get(mc, key, (size_t)kl, &len, &flags, &rc);
        if (v == NULL || len != strlen(want) || memcmp(v, want, len) != 0) {
            fprintf(stderr, "get %s: %s\n", key, memcached_strerror(mc, rc));
            return 1;
        }
        free(v);
    }
    for (unsigned s = 0; s < nservers; s++)
        printf("%u\n", per[s]);
    free(per);
    memcached_free(mc);
    return 0;
}
