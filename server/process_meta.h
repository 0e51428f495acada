/*
 * process_meta.h - the meta commands (mg ms md ma mn me) in the command
 * layer: executes a parsed `struct meta_request` against the store and
 * encodes the replies with proto/meta, through the same request context
 * as the classic commands (process.h). Called only by process.c.
 */
#ifndef MCD_PROCESS_META_H
#define MCD_PROCESS_META_H

#include <stdbool.h>

#include "proto/meta.h"
#include "server/process.h"

/* Executes one meta request. ms allocates the item and returns
 * PROCESS_NREAD (then process_meta_value() runs), or PROCESS_SWALLOW after
 * an error. */
enum process_next process_meta(struct request_ctx *x, const struct meta_request *m);

/* The value of an ms has been read into `it` (see process_value()). */
void process_meta_value(struct request_ctx *x, const struct meta_request *m, struct item *it, bool chunk_ok);

#endif /* MCD_PROCESS_META_H */
