/*
 * crawler.h - the store's side of the crawler (crawler.c): its API is in
 * store.h (store_dump_*, store_crawl_*); this is the store-internal rest.
 */
#ifndef MCD_STORE_CRAWLER_H
#define MCD_STORE_CRAWLER_H

/* Stops the crawler thread, if it was started (store_teardown()). */
void crawler_teardown(void);

#endif /* MCD_STORE_CRAWLER_H */
