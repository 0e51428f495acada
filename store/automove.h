/*
 * automove.h - the page mover's thread: carries out `slabs reassign`,
 * runs the automover (`slabs automove 1|2`) and brings total_malloced
 * down to a lowered cache_memlimit. Its API for server/ is store.h's
 * store_slabs_reassign(), store_slabs_automove*() and store_mem_limit_set().
 */
#ifndef MCD_STORE_AUTOMOVE_H
#define MCD_STORE_AUTOMOVE_H

#include "store/store.h"

/* Reads the options; starts the thread when `start` (the store's
 * background threads). Returns 0 or -1 (errno set). */
int automove_setup(const struct store_options *o, bool start);
/* Stops and joins the thread (a move under way is given up). */
void automove_teardown(void);
/* The mover's counters for store_info(). */
void automove_info(struct store_info *out);

#endif /* MCD_STORE_AUTOMOVE_H */
