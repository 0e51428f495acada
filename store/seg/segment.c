/*
 * segment.c - the TTL buckets' arithmetic (segment.h): which bucket a TTL
 * falls in, and the bucket's lower bound and width.
 */
#include "config.h"

#include "store/seg/segment.h"

#define RANGES 5u
#define PER_RANGE 255u

/* Range r starts at TTL start(r) and has buckets of 16^r seconds. */
static uint32_t
range_start(unsigned r)
{
    uint32_t s = 1;
    for (unsigned i = 0; i < r; i++)
        s += PER_RANGE << (4 * i);
    return s;
}

unsigned
seg_ttl_bucket_of(uint32_t ttl)
{
    if (ttl == 0)
        return 0;
    for (unsigned r = 0; r < RANGES; r++) {
        uint32_t start = range_start(r), width = 1u << (4 * r);
        if (ttl < start + PER_RANGE * width)
            return 1 + r * PER_RANGE + (ttl - start) / width;
    }
    return SEG_TTL_BUCKETS - 1;
}

uint32_t
seg_ttl_bucket_width(unsigned b)
{
    return b == 0 ? 0 : 1u << (4 * ((b - 1) / PER_RANGE));
}

uint32_t
seg_ttl_bucket_ttl(unsigned b)
{
    if (b == 0)
        return 0;
    unsigned r = (b - 1) / PER_RANGE;
    return range_start(r) + ((b - 1) % PER_RANGE) * seg_ttl_bucket_width(b);
}
