/*
 * seq.c - the tester's plain data: the flag sets it runs under, its random
 * source, and copying and freeing request sequences.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdlib.h>
#include <string.h>

/*
 * Every flag set that changes what a client sees. big_values makes the
 * generator try values on both sides of the -I limit; evictions makes it
 * churn big values through a small -m.
 */
const struct dg_flagset dg_flagsets[] = {
    {"default", {NULL}, DG_AUTO, true, 1048576, false},
    {"-C", {"-C", NULL}, DG_AUTO, false, 1048576, false},
    {"-M", {"-M", NULL}, DG_AUTO, false, 1048576, false},
    {"-I 2m", {"-I", "2m", NULL}, DG_AUTO, true, 2097152, false},
    {"-B binary", {"-B", "binary", NULL}, DG_ONLY_BINARY, false, 1048576, false},
    {"-B ascii", {"-B", "ascii", NULL}, DG_ONLY_ASCII, false, 1048576, false},
    {"-o no_lru_crawler", {"-o", "no_lru_crawler", NULL}, DG_AUTO, false, 1048576, false},
    {"-m 8", {"-m", "8", NULL}, DG_AUTO, false, 1048576, true},
};
const size_t dg_nflagsets = sizeof(dg_flagsets) / sizeof(dg_flagsets[0]);

void dg_rng_seed(struct dg_rng *r, uint64_t seed)
{
    /* splitmix64 of the seed, so that nearby seeds start far apart */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->s = (z ^ (z >> 31)) | 1;
}

uint64_t dg_rng_next(struct dg_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

uint32_t dg_rng_below(struct dg_rng *r, uint32_t n)
{
    return (uint32_t)((dg_rng_next(r) >> 32) % n);
}

bool dg_rng_chance(struct dg_rng *r, uint32_t num, uint32_t den)
{
    return dg_rng_below(r, den) < num;
}

void dg_seq_free(struct dg_seq *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->reqs[i].b);
    free(s->reqs);
    memset(s, 0, sizeof(*s));
}

void dg_seq_push(struct dg_seq *s, const struct dg_req *r)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->reqs = mcd_xrealloc(s->reqs, s->cap * sizeof(*s->reqs));
    }
    s->reqs[s->n] = *r;
    s->reqs[s->n].b = mcd_xrealloc(NULL, r->len + 1);
    if (r->len > 0)
        memcpy(s->reqs[s->n].b, r->b, r->len);
    s->n++;
}

void dg_seq_copy(struct dg_seq *dst, const struct dg_seq *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->mode = src->mode;
    dst->chunk_seed = src->chunk_seed;
    for (size_t i = 0; i < src->n; i++)
        dg_seq_push(dst, &src->reqs[i]);
}

bool dg_class_in(const char *cls, const char *list)
{
    while (list != NULL && *list != '\0') {
        const char *e = strchr(list, ',');
        size_t n = e != NULL ? (size_t)(e - list) : strlen(list);

        if (n > 0 && strncmp(cls, list, n) == 0 && (cls[n] == '\0' || cls[n] == '.'))
            return true;
        list = e != NULL ? e + 1 : NULL;
    }
    return false;
}
