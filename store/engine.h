/*
 * engine.h - which engine serves store.h's API: the slab store (store/,
 * the default) or the segment store (store/seg/seg_engine.h, with
 * -o item_store=segments). Chosen once by store_setup(); every public
 * entry point of the slab store starts with STORE_SEG_ROUTE, a branch on a
 * flag written before any worker starts and only read afterwards.
 */
#ifndef MCD_STORE_ENGINE_H
#define MCD_STORE_ENGINE_H

#include <stdbool.h>

#include "store/seg/seg_engine.h"

extern bool store_seg_on;

/* engine.c: store_setup()/store_teardown() with opts->segments. */
int store_int_seg_setup(const struct store_options *o);
void store_int_seg_teardown(void);

/* In a function returning a value: the segment engine's answer instead. */
#define STORE_SEG_ROUTE(call)                                                                                    \
    do {                                                                                                         \
        if (__builtin_expect(store_seg_on, 0))                                                                   \
            return call;                                                                                         \
    } while (0)

/* In a void function. */
#define STORE_SEG_ROUTE_VOID(call)                                                                               \
    do {                                                                                                         \
        if (__builtin_expect(store_seg_on, 0)) {                                                                 \
            call;                                                                                                \
            return;                                                                                              \
        }                                                                                                        \
    } while (0)

/* A slab-only call (class info, page moves, crawler): what it answers when
 * the segment engine is on. */
#define STORE_SLAB_ONLY(value)                                                                                   \
    do {                                                                                                         \
        if (__builtin_expect(store_seg_on, 0))                                                                   \
            return value;                                                                                        \
    } while (0)

#endif /* MCD_STORE_ENGINE_H */
