/*
 * cluster.h - ElastiCache's auto-discovery: the node list of
 * `-o cluster_config=FILE` that `config get cluster` answers with, and its
 * version, which goes up by one each time a re-read (SIGHUP) finds a
 * different list.
 */
#ifndef MCD_CLUSTER_H
#define MCD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads `path` (NULL: no cluster config; `config get cluster` is then
 * ERROR, as memcached). One node a line, "host ip port"; '#' starts a
 * comment, blank lines are skipped. Returns 0, or -1 (logged) when the
 * file cannot be read or a line is malformed. */
int cluster_setup(const char *path);
void cluster_teardown(void);

/* SIGHUP: reads the file again. A different node list becomes the
 * config with the next version; the same list keeps its version; a file
 * that cannot be read or parsed keeps the old one (logged). Returns 0 or
 * -1. */
int cluster_reload(void);

bool cluster_enabled(void);

/* The config's body as ElastiCache sends it, "<version>\n<host|ip|port
 * ...>\n", malloc'd (the caller frees it), its length in *len. NULL when
 * there is no cluster config or no memory. */
char *cluster_body(size_t *len);

/* The current version (1 after setup). */
uint64_t cluster_version(void);

#endif /* MCD_CLUSTER_H */
