/*
 * keyhash.h - the key's hash, shared by the slab store's table (32 bits
 * of it: hashtable.h) and the segment engine's index (all 64: the bucket
 * from its low bits, a 12-bit tag from its top ones; store/seg/).
 *
 * 64-bit multiply-fold mixing, 8 bytes a step. A key of up to 16 bytes is
 * read as two (possibly overlapping) words that cover every byte, so its
 * hash costs two loads and two 64x64->128 multiplies (about 20
 * instructions, where the byte-wise murmur3 it replaced took about 60 for
 * a 16-byte key; doc/performance.md). Longer keys fold 16 bytes a step,
 * then the last 16. Each fold adds its inputs back to the product, so that
 * one factor of zero does not erase the other (a key chosen to zero a
 * factor still gets a hash that depends on its other bytes). Internal
 * only: nothing outside the process sees these values (`stats settings`
 * reports memcached's hash_algorithm, which has no effect here;
 * memcached-compat.md).
 */
#ifndef MCD_STORE_KEYHASH_H
#define MCD_STORE_KEYHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KH_K0 UINT64_C(0x9e3779b97f4a7c15)
#define KH_K1 UINT64_C(0xd6e8feb86659fd93)
#define KH_K2 UINT64_C(0xa0761d6478bd642f)
#define KH_K3 UINT64_C(0xe7037ed1a0b428db)

static inline uint64_t
kh_read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t
kh_read32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 128-bit product of a and b folded to 64 bits, plus both inputs. */
static inline uint64_t
kh_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return ((uint64_t)r ^ (uint64_t)(r >> 64)) + a + b;
}

static inline uint64_t
key_hash64(const char *key, size_t nkey)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t seed = KH_K0 ^ nkey, a, b;
    if (nkey <= 16) {
        if (nkey >= 8) {
            a = kh_read64(p);
            b = kh_read64(p + nkey - 8);
        } else if (nkey >= 4) {
            a = kh_read32(p);
            b = kh_read32(p + nkey - 4);
        } else if (nkey > 0) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[nkey >> 1] << 8 | p[nkey - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t n = nkey;
        do {
            seed = kh_fold(kh_read64(p) ^ KH_K1, kh_read64(p + 8) ^ seed);
            p += 16;
            n -= 16;
        } while (n > 16);
        a = kh_read64(p + n - 16);
        b = kh_read64(p + n - 8);
    }
    uint64_t h = kh_fold(a ^ KH_K1, b ^ seed);
    return kh_fold(h ^ KH_K2, (uint64_t)nkey ^ KH_K3);
}

#endif /* MCD_STORE_KEYHASH_H */
