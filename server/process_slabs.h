/*
 * process_slabs.h - the memory commands of the text protocol: `slabs
 * automove`, `slabs reassign` and `cache_memlimit`, over the store's page
 * mover (store.h). Their reply is one line, memcached 1.6.45's words.
 */
#ifndef MCD_PROCESS_SLABS_H
#define MCD_PROCESS_SLABS_H

#include "proto/proto.h"

/* The reply line (no "\r\n") to a parsed MC_CMD_SLABS or
 * MC_CMD_CACHE_MEMLIMIT request, after doing what it asks. */
const char *process_slabs(const struct mc_request *req);

#endif /* MCD_PROCESS_SLABS_H */
