/*
 * process_meta.h - the meta commands (mg ms md ma mn me) in the command
 * layer: executes a parsed `struct meta_request` against the store and
 * encodes the replies with proto/meta. Worker thread of the connection.
 */
#ifndef MCD_PROCESS_META_H
#define MCD_PROCESS_META_H

#include "proto/meta.h"
#include "server/process.h"

struct conn;

/* Executes one meta request (c->meta). For ms: allocates the item and
 * returns PROCESS_NREAD (the value is then read into c->nread_it and
 * process_meta_complete() runs), or PROCESS_SWALLOW after an error. */
enum process_next process_meta(struct conn *c, const struct meta_request *m);

/* The value of an ms (and its terminator) has been read into c->nread_it. */
void process_meta_complete(struct conn *c);

#endif /* MCD_PROCESS_META_H */
