/*
 * process_admin.h - the inspection commands of the command layer
 * (process_admin.c): lru_crawler, stats cachedump, stats sizes, stats
 * detail dump. Dumps stream in slices (PROCESS_MORE) with their cursor in
 * the request context.
 */
#ifndef MCD_PROCESS_ADMIN_H
#define MCD_PROCESS_ADMIN_H

#include <stdbool.h>

#include "server/process.h"

/* `lru_crawler ...` (text only). */
enum process_next process_lru_crawler(struct request_ctx *x, const struct mc_request *req);

/* The stats groups answered here (cachedump; sizes under -o track_sizes;
 * detail dump), or a dump of one resumed. False: not one of them (stats.c
 * answers). */
bool process_admin_stats(struct request_ctx *x, const struct mc_request *req, enum process_next *next);

#endif /* MCD_PROCESS_ADMIN_H */
