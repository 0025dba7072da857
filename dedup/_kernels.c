/*
 * Compiled inner loops of dedup (see dedup/kernels.py, which calls them through ctypes and
 * checks every index before it does). Each computes exactly what the numpy code it replaces
 * computes: unsigned integer arithmetic modulo 2**32 or 2**64, the same on every machine.
 *
 * The module object itself has no methods: kernels.py loads this file as a shared library.
 * The loops run without the GIL (ctypes releases it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stddef.h>

/* Vector code for the host CPU, chosen at load time (GCC and clang on x86-64 Linux). */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

#define EXPORT __attribute__((visibility("default")))

/* MinHash signatures of consecutive shingle sets: set s is hashes[starts[s] .. starts[s + 1])
 * (the last runs to n_hashes); out[s, i] = min over the set of a[i] * x + b[i] (mod 2**32). */
EXPORT CLONES void dd_sign_sets(const uint32_t *hashes, int64_t n_hashes, const int64_t *starts,
                                int64_t n_sets, const uint32_t *a, const uint32_t *b, int64_t n_perm,
                                uint32_t *out) {
    for (int64_t s = 0; s < n_sets; s++) {
        int64_t lo = starts[s], hi = s + 1 < n_sets ? starts[s + 1] : n_hashes;
        uint32_t *acc = out + s * n_perm;
        for (int64_t i = 0; i < n_perm; i++) acc[i] = 0xFFFFFFFFu;
        for (int64_t j = lo; j < hi; j++) {
            uint32_t x = hashes[j];
            for (int64_t i = 0; i < n_perm; i++) {
                uint32_t v = a[i] * x + b[i];
                acc[i] = v < acc[i] ? v : acc[i];
            }
        }
    }
}

static const uint64_t P = 0x9E3779B97F4A7C15ull; /* dedup.shingles._P */
static const uint64_t C1 = 0xFF51AFD7ED558CCDull; /* MurmurHash3 fmix64 */
static const uint64_t C2 = 0xC4CEB9FE1A85EC53ull;
static const uint64_t Q = 0xC2B2AE3D27D4EB4Full; /* dedup.text._Q */

/* dedup.shingles.window_hashes of the windows of `width` tokens starting at starts[i]. */
EXPORT void dd_window_hashes(const uint64_t *tokens, const int64_t *starts, int64_t n, int64_t width,
                             uint64_t *out) {
    for (int64_t i = 0; i < n; i++) {
        const uint64_t *t = tokens + starts[i];
        uint64_t acc = t[0];
        for (int64_t j = 1; j < width; j++) acc = acc * P + t[j];
        acc ^= (uint64_t)width;
        acc ^= acc >> 33;
        acc *= C1;
        acc ^= acc >> 33;
        acc *= C2;
        acc ^= acc >> 33;
        out[i] = acc;
    }
}

/* sum(c[s + k] * Q**k) mod 2**64 of every span [starts[i], ends[i]) of the characters; with
 * `lower`, ASCII capitals count as lower case (the polynomial of dedup.text._span_hashes). */
#define SPAN_POLY(NAME, CHAR)                                                                  \
    EXPORT void NAME(const CHAR *chars, const int64_t *starts, const int64_t *ends, int64_t n,  \
                     int lower, uint64_t *out) {                                               \
        if (lower) {                                                                           \
            for (int64_t i = 0; i < n; i++) {                                                  \
                uint64_t acc = 0, p = 1;                                                       \
                for (int64_t j = starts[i]; j < ends[i]; j++) {                                \
                    uint64_t c = chars[j];                                                     \
                    if (c - 65u < 26u) c += 32u;                                               \
                    acc += c * p;                                                              \
                    p *= Q;                                                                    \
                }                                                                              \
                out[i] = acc;                                                                  \
            }                                                                                  \
        } else {                                                                               \
            for (int64_t i = 0; i < n; i++) {                                                  \
                uint64_t acc = 0, p = 1;                                                       \
                for (int64_t j = starts[i]; j < ends[i]; j++) {                                \
                    acc += (uint64_t)chars[j] * p;                                             \
                    p *= Q;                                                                    \
                }                                                                              \
                out[i] = acc;                                                                  \
            }                                                                                  \
        }                                                                                      \
    }

SPAN_POLY(dd_span_poly8, uint8_t)
SPAN_POLY(dd_span_poly32, uint32_t)

/* Signatures of a batch's units (paragraphs, then sentences) in band-major layout: paragraph u
 * is the union of segments para_seg0[u] .. para_seg0[u + 1] - 1 (the last runs to n_seg), its
 * signature the elementwise minimum of theirs; sentence t is segment sent_seg[t].
 * banded[j, u, k] = row_u[j * rows + k]; rest[u, i - bands * rows] = row_u[i] past the bands. */
EXPORT CLONES void dd_unit_bands(const uint32_t *seg_sig, int64_t n_seg, int64_t n_perm,
                                 const int64_t *para_seg0, int64_t n_par, const int64_t *sent_seg,
                                 int64_t n_sent, int64_t bands, int64_t rows, uint32_t *banded,
                                 uint32_t *rest, uint32_t *row) {
    int64_t n = n_par + n_sent, width = bands * rows;
    for (int64_t u = 0; u < n; u++) {
        if (u < n_par) {
            int64_t lo = para_seg0[u], hi = u + 1 < n_par ? para_seg0[u + 1] : n_seg;
            const uint32_t *first = seg_sig + lo * n_perm;
            for (int64_t i = 0; i < n_perm; i++) row[i] = first[i];
            for (int64_t s = lo + 1; s < hi; s++) {
                const uint32_t *r = seg_sig + s * n_perm;
                for (int64_t i = 0; i < n_perm; i++) row[i] = r[i] < row[i] ? r[i] : row[i];
            }
        } else {
            const uint32_t *r = seg_sig + sent_seg[u - n_par] * n_perm;
            for (int64_t i = 0; i < n_perm; i++) row[i] = r[i];
        }
        for (int64_t j = 0; j < bands; j++) {
            uint32_t *dst = banded + (j * n + u) * rows;
            for (int64_t k = 0; k < rows; k++) dst[k] = row[j * rows + k];
        }
        for (int64_t i = width; i < n_perm; i++) rest[u * (n_perm - width) + i - width] = row[i];
    }
}

/* The slot of x in an open-addressing table whose live slots carry stamp == gen: where x is,
 * or the empty slot where it goes. */
static inline uint32_t find_slot(const uint32_t *keys, const uint32_t *stamp, uint32_t gen, uint32_t mask,
                                 int shift, uint32_t x) {
    uint32_t h = shift < 32 ? (uint32_t)(x * 0x9E3779B1u) >> shift : 0;
    while (stamp[h] == gen && keys[h] != x) h = (h + 1) & mask;
    return h;
}

/* Exact Jaccard of the shingle sets of many pairs: pair i compares the set of
 * sh_a[start_a[i] .. + len_a[i]) with the set of sh_b[start_b[i] .. + len_b[i]) (repeats count
 * once); out[i] = |A & B| / |A | B| (1 when both are empty), rounded as numpy rounds
 * float64 -> float32. `keys`, `stamp` and `side` are a scratch hash table of `cap` slots (a
 * power of two, at least twice the largest len_a + len_b), `stamp` zeroed. */
EXPORT void dd_set_jaccard(const uint32_t *sh_a, const int64_t *start_a, const int64_t *len_a,
                           const uint32_t *sh_b, const int64_t *start_b, const int64_t *len_b, int64_t n,
                           float *out, uint32_t *keys, uint32_t *stamp, uint8_t *side, int64_t cap) {
    uint32_t mask = (uint32_t)(cap - 1);
    int shift = 32;
    for (int64_t c = cap; c > 1; c >>= 1) shift--;
    for (int64_t i = 0; i < n; i++) {
        uint32_t gen = (uint32_t)(i + 1);
        int64_t n_a = 0, inter = 0, b_only = 0;
        const uint32_t *a = sh_a + start_a[i], *b = sh_b + start_b[i];
        for (int64_t j = 0; j < len_a[i]; j++) {
            uint32_t x = a[j];
            uint32_t h = find_slot(keys, stamp, gen, mask, shift, x);
            if (stamp[h] != gen) {
                stamp[h] = gen;
                keys[h] = x;
                side[h] = 1;
                n_a++;
            }
        }
        for (int64_t j = 0; j < len_b[i]; j++) {
            uint32_t x = b[j];
            uint32_t h = find_slot(keys, stamp, gen, mask, shift, x);
            if (stamp[h] != gen) {
                stamp[h] = gen;
                keys[h] = x;
                side[h] = 2;
                b_only++;
            } else if (side[h] == 1) {
                side[h] = 3;
                inter++;
            }
        }
        int64_t uni = n_a + b_only;
        out[i] = uni > 0 ? (float)((double)inter / (double)uni) : 1.0f;
    }
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Compiled loops of dedup, loaded with ctypes by dedup.kernels.", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
