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
#include <stdlib.h>
#include <string.h>
#include <math.h>

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

/* A column of `width` uint32 values per row, kept as the n_chunks arrays it was appended in
 * (no merged copy): chunk k holds rows starts[k] .. starts[k + 1] - 1, row-major. */
typedef struct {
    const uint32_t *const *chunks;
    const int64_t *starts;
    int64_t n_chunks, width;
} Chunked;

/* Row r of column c (0 <= r < starts[n_chunks], checked by the caller). `*hint` is the chunk of
 * the previous lookup, tried first: rows mostly come in order. */
static inline const uint32_t *chunk_row(const Chunked *c, int64_t r, int64_t *hint) {
    int64_t k = *hint;
    if (r < c->starts[k] || r >= c->starts[k + 1]) {
        int64_t lo = 0, hi = c->n_chunks - 1; /* the last chunk starting at or before r */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo + 1) / 2;
            if (c->starts[mid] <= r) lo = mid;
            else hi = mid - 1;
        }
        *hint = k = lo;
    }
    return c->chunks[k] + (r - c->starts[k]) * c->width;
}

/* dedup.lsh._pack of dedup.lsh.band_key: for each i < n_sel, the key of band `band` of row
 * sel[i] of the column (`rows` uint32 values per row, in n_chunks chunks as chunk_row reads
 * them), its low `bits` bits replaced by i. The key reads the values as 64-bit lanes (two
 * values each, little-endian; an odd last value alone), sums lane_k * LANE[k % 4], xors the
 * band's salt and mixes (xor-shift 31, multiply, xor-shift 29), as band_key does with numpy. */
static const uint64_t LANE[4] = {0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0xFF51AFD7ED558CCDull,
                                 0xC4CEB9FE1A85EC53ull};
EXPORT void dd_band_pack(const uint32_t *const *chunks, const int64_t *starts, int64_t n_chunks, int64_t rows,
                         int64_t band, const int64_t *sel, int64_t n_sel, int64_t bits, uint64_t *out) {
    Chunked c = {chunks, starts, n_chunks, rows};
    uint64_t salt = (uint64_t)band * 0x9E3779B97F4A7C15ull, mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    int64_t pairs = rows / 2, hint = 0;
    for (int64_t i = 0; i < n_sel; i++) {
        const uint32_t *v = chunk_row(&c, sel[i], &hint);
        uint64_t acc = 0;
        for (int64_t k = 0; k < pairs; k++)
            acc += ((uint64_t)v[2 * k] | (uint64_t)v[2 * k + 1] << 32) * LANE[k % 4];
        if (rows % 2) acc += (uint64_t)v[rows - 1] * LANE[pairs % 4];
        acc ^= salt;
        acc ^= acc >> 31;
        acc *= 0xBF58476D1CE4E5B9ull;
        acc ^= acc >> 29;
        out[i] = (acc & ~mask) | ((uint64_t)i & mask);
    }
}

/* dedup.columns.SignatureStore's equal counts, one band: out[i] += the number of positions
 * where rows a[i] and b[i] of the column (`width` values per row, chunked as chunk_row reads
 * them) hold the same value. Row numbers are int32, or int64 when wide = 1. */
EXPORT void dd_equal_counts(const uint32_t *const *chunks, const int64_t *starts, int64_t n_chunks, int64_t width,
                            const void *a, const void *b, int wide, int64_t n, int32_t *out) {
    Chunked c = {chunks, starts, n_chunks, width};
    int64_t hint_a = 0, hint_b = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = wide ? ((const int64_t *)a)[i] : ((const int32_t *)a)[i];
        int64_t y = wide ? ((const int64_t *)b)[i] : ((const int32_t *)b)[i];
        const uint32_t *u = chunk_row(&c, x, &hint_a), *v = chunk_row(&c, y, &hint_b);
        int32_t eq = 0;
        for (int64_t k = 0; k < width; k++) eq += u[k] == v[k];
        out[i] += eq;
    }
}

/* The root of node x in a union-find forest, halving the path on the way. */
static inline int64_t uf_find(int64_t *parent, int64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Connected components of the graph of n nodes with edges (pairs[2i], pairs[2i + 1]), i < m
 * (rows of an (m, 2) array of int32 or int64 node numbers: wide = 1 for int64), only those with
 * sel[i] != 0 when sel is not NULL: labels[v] numbers v's component by the order of the
 * components' smallest nodes (what scipy's connected_components gives scanning 0 .. n - 1).
 * `labels` is also the union-find forest while it runs. */
EXPORT void dd_components(int64_t n, const void *pairs, int64_t m, int wide, const uint8_t *sel, int64_t *labels) {
    for (int64_t v = 0; v < n; v++) labels[v] = v;
    for (int64_t i = 0; i < m; i++) {
        if (sel && !sel[i]) continue;
        int64_t x = wide ? ((const int64_t *)pairs)[2 * i] : ((const int32_t *)pairs)[2 * i];
        int64_t y = wide ? ((const int64_t *)pairs)[2 * i + 1] : ((const int32_t *)pairs)[2 * i + 1];
        x = uf_find(labels, x);
        y = uf_find(labels, y);
        if (x != y) { /* the smaller root stays the root: every root is its component's smallest node */
            if (x < y) labels[y] = x;
            else labels[x] = y;
        }
    }
    for (int64_t v = 0; v < n; v++) labels[v] = uf_find(labels, v); /* every node at its root */
    /* Roots are their components' smallest nodes, so a scan in node order meets each root before
     * the rest of its component: a root takes the next number, any other node its root's. */
    int64_t next = 0;
    for (int64_t v = 0; v < n; v++) labels[v] = labels[v] == v ? next++ : labels[labels[v]];
}

/* Value i of an array of int32 (wide = 0) or int64 (wide = 1). */
static inline int64_t at_width(const void *p, int wide, int64_t i) {
    return wide ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

/* The key of the pair of values x, y (mapped through ids when not NULL), or -1 when they lie in
 * one group (groups[x] == groups[y], groups not NULL). */
static inline int64_t pair_key(int64_t x, int64_t y, const void *ids, int ids_wide, const void *groups,
                               int groups_wide) {
    if (ids) {
        x = at_width(ids, ids_wide, x);
        y = at_width(ids, ids_wide, y);
    }
    if (groups && at_width(groups, groups_wide, x) == at_width(groups, groups_wide, y)) return -1;
    return x < y ? (x << 32 | y) : (y << 32 | x);
}

/* Pair keys of every pair inside runs (dedup.lsh.run_pairs): for run k, the values
 * u[starts[k] .. starts[k] + sizes[k]); for each pair i < j of the run (values mapped through
 * ids when not NULL) that does not lie in one group, min << 32 | max goes to out, run after
 * run, pair (i, j) in the order of numpy.triu_indices. Returns the number of keys written; out
 * holds sum(sizes[k] * (sizes[k] - 1) / 2). ids and groups: int32 or int64 (*_wide). */
EXPORT int64_t dd_run_pairs(const int64_t *u, const int64_t *starts, const int64_t *sizes, int64_t n_runs,
                            const void *ids, int ids_wide, const void *groups, int groups_wide, int64_t *out) {
    int64_t w = 0;
    for (int64_t k = 0; k < n_runs; k++) {
        const int64_t *r = u + starts[k];
        int64_t z = sizes[k];
        for (int64_t i = 0; i < z; i++)
            for (int64_t j = i + 1; j < z; j++) {
                int64_t key = pair_key(r[i], r[j], ids, ids_wide, groups, groups_wide);
                if (key >= 0) out[w++] = key;
            }
    }
    return w;
}

/* Pair keys between the rows of twin groups in runs (dedup.lsh._twin_bucket_pairs): run k is
 * the groups g[starts[k] .. starts[k] + sizes[k]); for each pair of its groups i < j, every row
 * of group g[i] with every row of group g[j] gives a key as dd_run_pairs gives it (rows mapped
 * through ids, pairs inside one of groups dropped). A group h has one row, first[h], when
 * multi_of[h] < 0, else the msize[m] rows rows[mstart[m] ..] of m = multi_of[h]. With out NULL,
 * returns the number of row pairs (what out must hold), else the number of keys written, or -1
 * when memory ran out. first, rows, ids, groups: int32 or int64 (*_wide). */
EXPORT int64_t dd_twin_run_pairs(const int64_t *g, const int64_t *starts, const int64_t *sizes, int64_t n_runs,
                                 const void *first, int first_wide, const int32_t *multi_of,
                                 const int64_t *mstart, const int64_t *msize, const void *rows, int rows_wide,
                                 const void *ids, int ids_wide, const void *groups, int groups_wide,
                                 int64_t *out) {
    int64_t w = 0, cap = 0;
    int64_t *id = NULL, *grp = NULL, *end = NULL; /* per run: each row's id and group, each group's end */
    for (int64_t k = 0; k < n_runs; k++) {
        const int64_t *r = g + starts[k];
        int64_t z = sizes[k], t = 0, sq = 0;
        for (int64_t i = 0; i < z; i++) {
            int32_t m = multi_of[r[i]];
            int64_t n = m < 0 ? 1 : msize[m];
            t += n;
            sq += n * n;
        }
        if (!out) { /* the sum over pairs of groups of their rows' product */
            w += (t * t - sq) / 2;
            continue;
        }
        if (t > cap || z > cap) { /* room for the run's rows and its groups */
            cap = 2 * (t > z ? t : z);
            free(id);
            free(grp);
            free(end);
            id = malloc((size_t)cap * sizeof(int64_t));
            grp = malloc((size_t)cap * sizeof(int64_t));
            end = malloc((size_t)cap * sizeof(int64_t));
            if (!id || !grp || !end) {
                w = -1;
                break;
            }
        }
        int64_t at = 0;
        for (int64_t i = 0; i < z; i++) {
            int32_t m = multi_of[r[i]];
            int64_t n = m < 0 ? 1 : msize[m];
            for (int64_t a = 0; a < n; a++, at++) {
                int64_t x = m < 0 ? at_width(first, first_wide, r[i]) : at_width(rows, rows_wide, mstart[m] + a);
                if (ids) x = at_width(ids, ids_wide, x);
                id[at] = x;
                grp[at] = groups ? at_width(groups, groups_wide, x) : 0;
            }
            end[i] = at;
        }
        /* every row with every row of the later groups of the run */
        for (int64_t i = 0, a = 0; i < z; i++)
            for (; a < end[i]; a++) {
                int64_t x = id[a], gx = grp[a];
                for (int64_t b = end[i]; b < t; b++) {
                    if (groups && grp[b] == gx) continue;
                    int64_t y = id[b];
                    out[w++] = x < y ? (x << 32 | y) : (y << 32 | x);
                }
            }
    }
    free(id);
    free(grp);
    free(end);
    return w;
}

/* The sorted union of a and b (each ascending, repeats allowed), without repeats, into out
 * (room for na + nb); est[k] is bv[j] where out[k] == b[j] (the last such j), else NaN.
 * Returns the number written, or -3 when a or b is not ascending (out is then partly written). */
EXPORT int64_t dd_union_values(const int64_t *a, int64_t na, const int64_t *b, int64_t nb, const float *bv,
                               int64_t *out, float *est) {
    int64_t i = 0, j = 0, w = 0;
    for (int64_t k = 1; k < na; k++)
        if (a[k - 1] > a[k]) return -3;
    for (int64_t k = 1; k < nb; k++)
        if (b[k - 1] > b[k]) return -3;
    while (i < na || j < nb) {
        if (j >= nb || (i < na && a[i] < b[j])) {
            int64_t x = a[i++];
            if (w && out[w - 1] == x) continue;
            out[w] = x;
            est[w++] = NAN;
        } else {
            int64_t x = b[j];
            float v = bv[j++];
            if (w && out[w - 1] == x) {
                est[w - 1] = v;
                continue;
            }
            out[w] = x;
            est[w++] = v;
        }
    }
    return w;
}

/* The sorted union of k arrays of lo << 32 | hi pair keys (parts[p] holds lens[p] keys, each
 * array ascending, repeats allowed), without repeats, written as (lo, hi) rows of int32
 * (wide = 0) or int64 (wide = 1) into out (room for the sum of lens). Returns the rows
 * written; -1 when k > 64, -2 when a key holds an id outside [0, n), -3 when an array is not
 * ascending (out is then partly written). */
EXPORT int64_t dd_union_pairs(const int64_t *const *parts, const int64_t *lens, int64_t k, int64_t n, int wide,
                              void *out) {
    int64_t w = 0, last = 0;
    int64_t pos[64] = {0};
    if (k > 64) return -1;
    for (;;) {
        int64_t best = -1;
        for (int64_t p = 0; p < k; p++)
            if (pos[p] < lens[p] && (best < 0 || parts[p][pos[p]] < parts[best][pos[best]])) best = p;
        if (best < 0) break;
        int64_t at = pos[best]++, x = parts[best][at];
        if (at && parts[best][at - 1] > x) return -3;
        int64_t lo = x >> 32, hi = x & 0xFFFFFFFF;
        if (x < 0 || lo >= n || hi >= n) return -2;
        if (w && x == last) continue;
        last = x;
        if (wide) {
            ((int64_t *)out)[2 * w] = lo;
            ((int64_t *)out)[2 * w + 1] = hi;
        } else {
            ((int32_t *)out)[2 * w] = (int32_t)lo;
            ((int32_t *)out)[2 * w + 1] = (int32_t)hi;
        }
        w++;
    }
    return w;
}

/* Rows grouped by equal keys (dedup.lsh.twin_groups), groups numbered in order of their first
 * row: group[r] is the group of row r, first[g] its first row, count[g] its rows. Returns the
 * number of groups, or -1 when memory ran out. */
EXPORT int64_t dd_key_groups(const uint64_t *keys, int64_t n, int64_t *group, int64_t *first, int64_t *count) {
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * n) bits++;
    int64_t size = (int64_t)1 << bits, mask = size - 1, n_groups = 0;
    int64_t *slot = malloc((size_t)size * sizeof(int64_t)); /* group in each slot, -1: empty */
    if (!slot) return -1;
    for (int64_t s = 0; s < size; s++) slot[s] = -1;
    for (int64_t r = 0; r < n; r++) {
        uint64_t k = keys[r];
        int64_t s = (int64_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
        while (slot[s] >= 0 && keys[first[slot[s]]] != k) s = (s + 1) & mask;
        if (slot[s] < 0) {
            slot[s] = n_groups;
            first[n_groups] = r;
            count[n_groups] = 0;
            n_groups++;
        }
        group[r] = slot[s];
        count[slot[s]]++;
    }
    free(slot);
    return n_groups;
}

/* Sentence units of paragraphs (dedup.units.featurize): paragraph cand[c] has tokens
 * plo[c] .. phi[c] and the sentence breaks brk[b0[c] .. b1[c]) (token positions, ascending); a
 * break becomes a unit boundary when at least min_sent tokens lie between it and the previous
 * boundary and between it and the paragraph end. A paragraph with at least one such break gives
 * its units (paragraph, first token, past-last token) to out_para, out_lo, out_hi, which hold
 * one more value per paragraph than its breaks. Returns the number of units. */
EXPORT int64_t dd_sentence_units(const int64_t *cand, const int64_t *plo, const int64_t *phi, const int64_t *b0,
                                 const int64_t *b1, int64_t n_cand, const int64_t *brk, int64_t min_sent,
                                 int64_t *out_para, int64_t *out_lo, int64_t *out_hi) {
    int64_t n = 0;
    for (int64_t c = 0; c < n_cand; c++) {
        int64_t a = plo[c], b = phi[c], last = a, first = n;
        for (int64_t i = b0[c]; i < b1[c]; i++) {
            int64_t t = brk[i];
            if (t - last >= min_sent && b - t >= min_sent) {
                out_para[n] = cand[c];
                out_lo[n] = last;
                out_hi[n] = t;
                n++;
                last = t;
            }
        }
        if (n > first) { /* the last unit runs to the paragraph end */
            out_para[n] = cand[c];
            out_lo[n] = last;
            out_hi[n] = b;
            n++;
        }
    }
    return n;
}

/* ---- dedup.align: the words of folded text and the exact blocks between two documents ---- */

static const uint64_t WK1 = 0x9E3779B97F4A7C15ull; /* dedup.align._KEY_C1 */
static const uint64_t WK2 = 0xC2B2AE3D27D4EB4Full; /* dedup.align._KEY_C2 */
static const uint64_t MIX = 0x9E3779B97F4A7C15ull; /* dedup.align._MIX */

/* 8 bytes as a little-endian integer (numpy's "<u8"), whatever the host's byte order. */
static inline uint64_t load8(const uint8_t *p) {
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* The words of padded = 8 spaces + text + 8 spaces (n bytes), where text is folded (see
 * dedup.align._fold) and is fa + " " + fb with len(fa) == len_a. A word is a maximal run of
 * bytes other than a space. For each word, in order: its start and end (exclusive) in fa, or in
 * fb for the words past len_a; its length; its hash (first 8 bytes, zero-padded little-endian) *
 * K1 + (last 8 bytes, masked) * K2 + length, as dedup.align._word_keys computes it. The arrays
 * hold at least (n - 16) / 2 + 1 values. Returns the number of words; *n_a is the number of
 * words of fa. */
static int64_t fold_words(const uint8_t *padded, int64_t n, int64_t len_a, int64_t *starts, int64_t *ends,
                          int64_t *lens, uint64_t *hashes, int64_t *n_a) {
    const uint8_t *text = padded + 8;
    int64_t m = n - 16, w = 0, q = 0, na = 0;
    while (q < m) {
        while (q < m && text[q] == ' ') q++;
        if (q >= m) break;
        int64_t s = q;
        while (q < m && text[q] != ' ') q++;
        int64_t len = q - s, cl = len < 8 ? len : 8;
        uint64_t low = cl == 8 ? ~0ull : (1ull << (8 * cl)) - 1;
        uint64_t high = cl == 8 ? ~0ull : ~((1ull << (8 * (8 - cl))) - 1);
        uint64_t f8 = load8(text + s) & low;
        hashes[w] = f8 * WK1 + (load8(text + q - 8) & high) * WK2 + (uint64_t)len;
        lens[w] = len;
        if (s < len_a) {
            starts[w] = s;
            ends[w] = q;
            na++;
        } else {
            starts[w] = s - len_a - 1;
            ends[w] = q - len_a - 1;
        }
        w++;
    }
    *n_a = na;
    return w;
}

/* Whether words i .. i + n - 1 of one document equal words j .. j + n - 1 of another (each
 * document: its folded bytes and its words' starts and ends). */
static int same_words(const uint8_t *f1, const int64_t *s1, const int64_t *e1, int64_t i, const uint8_t *f2,
                      const int64_t *s2, const int64_t *e2, int64_t j, int64_t n) {
    for (int64_t t = 0; t < n; t++) {
        int64_t len = e1[i + t] - s1[i + t];
        if (len != e2[j + t] - s2[j + t] || memcmp(f1 + s1[i + t], f2 + s2[j + t], (size_t)len)) return 0;
    }
    return 1;
}

/* Index of target in the sorted v[lo .. hi), or -1. */
static inline int64_t find_sorted(const int64_t *v, int64_t lo, int64_t hi, int64_t target) {
    int64_t end = hi;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < target) lo = mid + 1;
        else hi = mid;
    }
    return lo < end && v[lo] == target ? lo : -1;
}

/* The shingles of one hash: how often in a (the first at first_a) and in b (the first at
 * first_b); a group of three or more has its b positions at pb[members ..] (else members is
 * -1). Positions fit in int32: the caller checks the document lengths. */
typedef struct {
    uint64_t key;
    int32_t n_a, first_a, n_b, first_b, members, placed;
} group_t;

/* The exact blocks of dedup.align._blocks_hashed: the maximal runs of words common to documents
 * a (wa words) and b (wb words), from the anchors between their shingles of k words.
 * `hashes` holds the word hashes of a then b; each document is given by its folded bytes and
 * its words' starts and ends. A shingle found once in each document is an anchor; one found
 * more often pairs every occurrence in a with every one in b or, when it occurs more than
 * max_repeats times in either, its i-th occurrence in a with its i-th in b. Shingles are
 * grouped by their 64-bit hash, so the words of every group of three or more are compared, and
 * so are those of every block. Blocks (a start, a end, b start, b end), sorted by a start then b
 * start, go to `blocks` (4 * cap values). Returns the number of blocks; -1 when two different
 * shingles share a hash (the caller takes its exact path); -2 when memory ran out; -(3 + n)
 * when the n blocks do not fit in cap (the first cap are written). */
static int64_t align_blocks(const uint64_t *hashes, int64_t wa, int64_t wb, int64_t k, int64_t max_repeats,
                               const uint8_t *fa, const int64_t *sa, const int64_t *ea, const uint8_t *fb,
                               const int64_t *sb, const int64_t *eb, int64_t *blocks, int64_t cap) {
    int64_t na = wa - k + 1, nb = wb - k + 1;
    if (na <= 0 || nb <= 0) return 0;
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * na) bits++;
    int64_t size = (int64_t)1 << bits, mask = size - 1, result = -2;
    int64_t n_anchor = 0, anchor_cap = na + 16;
    group_t *table = malloc((size_t)size * sizeof(group_t)); /* a slot is set when first used */
    uint8_t *used = calloc((size_t)size, 1);
    int64_t *slot_a = malloc((size_t)na * sizeof(int64_t)), *rank_a = malloc((size_t)na * sizeof(int64_t));
    int64_t *slot_b = malloc((size_t)nb * sizeof(int64_t)), *pb = malloc((size_t)nb * sizeof(int64_t));
    int64_t *aoff = malloc((size_t)(na + 1) * sizeof(int64_t));
    int64_t *aj = malloc((size_t)anchor_cap * sizeof(int64_t));
    if (!table || !used || !slot_a || !rank_a || !slot_b || !pb || !aoff || !aj) goto done;
    /* Group the shingles of a, then look up those of b. */
    for (int64_t p = 0; p < na + nb; p++) {
        const uint64_t *h = p < na ? hashes + p : hashes + wa + (p - na);
        uint64_t key = h[0];
        for (int64_t t = 1; t < k; t++) key = key * MIX + h[t];
        int64_t s = (int64_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
        while (used[s] && table[s].key != key) s = (s + 1) & mask;
        group_t *g = table + s;
        if (p < na) {
            if (!used[s]) {
                used[s] = 1;
                g->key = key;
                g->first_a = (int32_t)p;
                g->n_a = g->n_b = g->placed = 0;
                g->members = -1;
            }
            rank_a[p] = g->n_a++;
            slot_a[p] = s;
        } else if (used[s]) {
            if (g->n_b++ == 0) g->first_b = (int32_t)(p - na);
            slot_b[p - na] = s;
        } else {
            slot_b[p - na] = -1;
        }
    }
    /* The b positions of each group of three or more, in order. */
    int64_t off = 0;
    for (int64_t s = 0; s < size; s++) {
        group_t *g = table + s;
        if (used[s] && g->n_b > 0 && g->n_a + g->n_b >= 3) {
            g->members = (int32_t)off;
            off += g->n_b;
        }
    }
    for (int64_t j = 0; j < nb; j++) {
        if (slot_b[j] >= 0 && table[slot_b[j]].members >= 0) {
            group_t *g = table + slot_b[j];
            pb[g->members + g->placed++] = j;
        }
    }
    /* Anchors in order of a position, then b position: aj[aoff[i] .. aoff[i + 1]) for a's i. */
    for (int64_t i = 0; i < na; i++) {
        aoff[i] = n_anchor;
        const group_t *g = table + slot_a[i];
        if (g->n_b == 0) continue;
        if (n_anchor + g->n_b > anchor_cap) {
            while (n_anchor + g->n_b > anchor_cap) anchor_cap *= 2;
            int64_t *grown = realloc(aj, (size_t)anchor_cap * sizeof(int64_t));
            if (!grown) goto done;
            aj = grown;
        }
        if (g->members < 0) { /* once in each document */
            aj[n_anchor++] = g->first_b;
            continue;
        }
        const int64_t *mb = pb + g->members;
        if (i == g->first_a) { /* the group's b members against its first member, once */
            for (int64_t t = 0; t < g->n_b; t++) {
                if (!same_words(fa, sa, ea, i, fb, sb, eb, mb[t], k)) {
                    result = -1;
                    goto done;
                }
            }
        } else if (!same_words(fa, sa, ea, g->first_a, fa, sa, ea, i, k)) {
            result = -1;
            goto done;
        }
        if (g->n_a > max_repeats || g->n_b > max_repeats) {
            if (rank_a[i] < g->n_b) aj[n_anchor++] = mb[rank_a[i]];
        } else {
            for (int64_t t = 0; t < g->n_b; t++) aj[n_anchor++] = mb[t];
        }
    }
    aoff[na] = n_anchor;
    /* Blocks: runs of anchors (i, j), (i + 1, j + 1), ... from each anchor without a predecessor. */
    int64_t n_blocks = 0;
    for (int64_t i = 0; i < na; i++) {
        for (int64_t x = aoff[i]; x < aoff[i + 1]; x++) {
            int64_t j = aj[x];
            if (i > 0 && find_sorted(aj, aoff[i - 1], aoff[i], j - 1) >= 0) continue;
            int64_t e = 1;
            while (i + e < na && find_sorted(aj, aoff[i + e], aoff[i + e + 1], j + e) >= 0) e++;
            int64_t n = e + k - 1;
            if (!same_words(fa, sa, ea, i, fb, sb, eb, j, n)) {
                result = -1;
                goto done;
            }
            if (n_blocks < cap) {
                int64_t *out = blocks + 4 * n_blocks;
                out[0] = i;
                out[1] = i + n;
                out[2] = j;
                out[3] = j + n;
            }
            n_blocks++;
        }
    }
    result = n_blocks <= cap ? n_blocks : -(3 + n_blocks);
done:
    free(table);
    free(used);
    free(slot_a);
    free(rank_a);
    free(slot_b);
    free(pb);
    free(aoff);
    free(aj);
    return result;
}

/* ---- dedup.align after the blocks: chains, word ops, pieces, passages ---- */

/* Word-op kinds, as dedup.align's strings: "equal", "replace", "delete", "insert". */
enum { OP_EQUAL = 0, OP_REPLACE = 1, OP_DELETE = 2, OP_INSERT = 3 };

typedef struct {
    int64_t kind, a0, a1, b0, b1;
} wop_t;

/* A growable array of word ops. */
typedef struct {
    wop_t *v;
    int64_t n, cap;
} ops_t;

static int ops_push(ops_t *o, int64_t kind, int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
    if (o->n == o->cap) {
        int64_t cap = o->cap ? 2 * o->cap : 256;
        wop_t *v = realloc(o->v, (size_t)cap * sizeof(wop_t));
        if (!v) return 0;
        o->v = v;
        o->cap = cap;
    }
    wop_t *w = o->v + o->n++;
    w->kind = kind;
    w->a0 = a0;
    w->a1 = a1;
    w->b0 = b0;
    w->b1 = b1;
    return 1;
}

/* Everything align needs besides the documents' words, allocated once per call. */
typedef struct {
    const int32_t *ida, *idb; /* word ids: equal words, equal ids (both documents) */
    int32_t *head, *next;     /* b2j of one gap: head per id, next per b word of the gap */
    int64_t *found;           /* matching blocks of one gap (i, j, k), then a queue */
    int64_t found_cap;
} gapctx_t;

/* dedup.align._small_opcodes (difflib's opcodes without junk) of words a[0 .. la) and
 * b[0 .. lb) (ids), appended to `out` with the offsets oa and ob added. Returns 0 when memory
 * ran out. */
static int gap_opcodes(gapctx_t *g, const int32_t *a, int64_t la, const int32_t *b, int64_t lb, int64_t oa,
                       int64_t ob, ops_t *out) {
    for (int64_t j = lb - 1; j >= 0; j--) { /* b2j, positions increasing */
        g->next[j] = g->head[b[j]];
        g->head[b[j]] = (int32_t)j;
    }
    /* found: (i, j, k) blocks from the front; the queue of ranges (4 values) from the back. */
    int64_t need = 3 * (la < lb ? la : lb) + 4 * (la + lb + 2) + 8;
    if (need > g->found_cap) {
        int64_t *f = realloc(g->found, (size_t)need * sizeof(int64_t));
        if (!f) return 0;
        g->found = f;
        g->found_cap = need;
    }
    /* the queue of ranges (alo, ahi, blo, bhi) grows down from `back`: entry e at back - 4 e */
    int64_t *found = g->found, n_found = 0, n_queue = 1, *back = g->found + g->found_cap;
    back[-4] = 0, back[-3] = la, back[-2] = 0, back[-1] = lb;
    while (n_queue) {
        const int64_t *q = back - 4 * n_queue;
        int64_t alo = q[0], ahi = q[1], blo = q[2], bhi = q[3];
        n_queue--;
        int64_t besti = 0, bestj = 0, bestk = 0;
        for (int64_t i = alo; i < ahi; i++) {
            if (i >= ahi - bestk) break;
            int64_t end = bhi - bestk;
            for (int32_t j = g->head[a[i]]; j >= 0; j = g->next[j]) {
                if (j < blo) continue;
                if (j >= end) break;
                int64_t k = 1;
                while (i + k < ahi && j + k < bhi && a[i + k] == b[j + k]) k++;
                if (k > bestk) besti = i, bestj = j, bestk = k;
            }
        }
        if (bestk) {
            found[3 * n_found] = besti, found[3 * n_found + 1] = bestj, found[3 * n_found + 2] = bestk;
            n_found++;
            if (alo < besti && blo < bestj) {
                int64_t *r = back - 4 * ++n_queue;
                r[0] = alo, r[1] = besti, r[2] = blo, r[3] = bestj;
            }
            if (besti + bestk < ahi && bestj + bestk < bhi) {
                int64_t *r = back - 4 * ++n_queue;
                r[0] = besti + bestk, r[1] = ahi, r[2] = bestj + bestk, r[3] = bhi;
            }
        }
    }
    for (int64_t j = 0; j < lb; j++) g->head[b[j]] = -1;
    /* Sort by i (the blocks are disjoint), merge adjacent ones, then the opcodes. */
    for (int64_t x = 1; x < n_found; x++) {
        int64_t i = found[3 * x], j = found[3 * x + 1], k = found[3 * x + 2], y = x;
        while (y > 0 && found[3 * (y - 1)] > i) {
            found[3 * y] = found[3 * (y - 1)], found[3 * y + 1] = found[3 * (y - 1) + 1];
            found[3 * y + 2] = found[3 * (y - 1) + 2];
            y--;
        }
        found[3 * y] = i, found[3 * y + 1] = j, found[3 * y + 2] = k;
    }
    int64_t n_merged = 0;
    for (int64_t x = 0; x < n_found; x++) {
        if (n_merged && found[3 * n_merged - 3] + found[3 * n_merged - 1] == found[3 * x] &&
            found[3 * n_merged - 2] + found[3 * n_merged - 1] == found[3 * x + 1]) {
            found[3 * n_merged - 1] += found[3 * x + 2];
        } else {
            found[3 * n_merged] = found[3 * x], found[3 * n_merged + 1] = found[3 * x + 1];
            found[3 * n_merged + 2] = found[3 * x + 2];
            n_merged++;
        }
    }
    int64_t i = 0, j = 0;
    for (int64_t x = 0; x <= n_merged; x++) {
        int64_t ai = x < n_merged ? found[3 * x] : la, bj = x < n_merged ? found[3 * x + 1] : lb;
        int64_t size = x < n_merged ? found[3 * x + 2] : 0;
        int64_t kind = -1;
        if (i < ai && j < bj) kind = OP_REPLACE;
        else if (i < ai) kind = OP_DELETE;
        else if (j < bj) kind = OP_INSERT;
        if (kind >= 0 && !ops_push(out, kind, oa + i, oa + ai, ob + j, ob + bj)) return 0;
        i = ai + size, j = bj + size;
        if (size && !ops_push(out, OP_EQUAL, oa + ai, oa + i, ob + bj, ob + j)) return 0;
    }
    return 1;
}

/* dedup.align._word_ops of one chain (blocks c[0 .. n), 4 values each), appended to `ops`. */
static int word_ops(gapctx_t *g, const int64_t *c, int64_t n, ops_t *ops, ops_t *gap) {
    int64_t eq_a = c[0], pa1 = c[1], eq_b = c[2], pb1 = c[3];
    for (int64_t x = 1; x < n; x++) {
        int64_t a0 = c[4 * x], a1 = c[4 * x + 1], b0 = c[4 * x + 2], b1 = c[4 * x + 3];
        if (a0 > pa1) {
            if (b0 > pb1) {
                int plain = 0; /* no common word: one "replace" */
                gap->n = 0;
                if (a0 == pa1 + 1 && b0 == pb1 + 1 && g->ida[pa1] != g->idb[pb1]) {
                    plain = 1;
                } else {
                    if (!gap_opcodes(g, g->ida + pa1, a0 - pa1, g->idb + pb1, b0 - pb1, 0, 0, gap)) return 0;
                    plain = gap->n == 1 && gap->v[0].kind == OP_REPLACE;
                }
                if (!ops_push(ops, OP_EQUAL, eq_a, pa1, eq_b, pb1)) return 0;
                if (plain) {
                    if (!ops_push(ops, OP_REPLACE, pa1, a0, pb1, b0)) return 0;
                } else {
                    for (int64_t y = 0; y < gap->n; y++) {
                        wop_t *o = gap->v + y, *last = ops->v + ops->n - 1;
                        if (o->a0 == o->a1 && o->b0 == o->b1) continue;
                        if (last->kind == o->kind) {
                            last->a1 = pa1 + o->a1;
                            last->b1 = pb1 + o->b1;
                        } else if (!ops_push(ops, o->kind, pa1 + o->a0, pa1 + o->a1, pb1 + o->b0, pb1 + o->b1)) {
                            return 0;
                        }
                    }
                    if (ops->v[ops->n - 1].kind == OP_EQUAL) {
                        ops->n--;
                        eq_a = ops->v[ops->n].a0;
                        eq_b = ops->v[ops->n].b0;
                        pa1 = a1, pb1 = b1;
                        continue;
                    }
                }
            } else {
                if (!ops_push(ops, OP_EQUAL, eq_a, pa1, eq_b, pb1) || !ops_push(ops, OP_DELETE, pa1, a0, pb1, pb1))
                    return 0;
            }
        } else if (b0 > pb1) {
            if (!ops_push(ops, OP_EQUAL, eq_a, pa1, eq_b, pb1) || !ops_push(ops, OP_INSERT, pa1, pa1, pb1, b0))
                return 0;
        } else {
            pa1 = a1, pb1 = b1;
            continue;
        }
        eq_a = a0, eq_b = b0;
        pa1 = a1, pb1 = b1;
    }
    return ops_push(ops, OP_EQUAL, eq_a, pa1, eq_b, pb1);
}

/* dedup.align._trim: the best-scoring run ops[lo .. hi) of v[0 .. n). */
static void trim(const wop_t *v, int64_t n, double cost, int64_t *lo_out, int64_t *hi_out) {
    double best = 0.0, cur = 0.0;
    int64_t best_lo = 0, best_hi = 0, lo = 0;
    for (int64_t idx = 1; idx <= n; idx++) {
        const wop_t *o = v + idx - 1;
        double val = o->kind == OP_EQUAL ? (double)(o->a1 - o->a0) : -cost * (double)(o->a1 - o->a0 + o->b1 - o->b0);
        if (cur <= 0) {
            cur = val;
            lo = idx - 1;
        } else {
            cur += val;
        }
        if (cur > best) best = cur, best_lo = lo, best_hi = idx;
    }
    *lo_out = best_lo;
    *hi_out = best_hi;
}

typedef struct {
    double gap_cost, shift_cost, trim_cost, min_similarity, min_content_share;
    int64_t max_gap, max_pred, min_words, min_content;
} alignopt_t;

/* Block indices in order of score, best first, equal scores in block order (a stable merge
 * sort; `tmp` as long as `idx`). */
static void sort_by_score(int64_t *idx, int64_t *tmp, int64_t n, const double *score) {
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, t = lo;
            while (i < mid && j < hi) tmp[t++] = score[idx[j]] > score[idx[i]] ? idx[j++] : idx[i++];
            while (i < mid) tmp[t++] = idx[i++];
            while (j < hi) tmp[t++] = idx[j++];
        }
        for (int64_t x = 0; x < n; x++) idx[x] = tmp[x];
    }
}

/* Word ids of the n words (equal bytes, equal id), from their hashes and bytes: word t is
 * text[starts[t] .. ends[t]) of fa for t < wa, of fb past it. Returns 0 when memory ran out. */
static int word_ids(const uint64_t *hashes, const int64_t *starts, const int64_t *ends, int64_t wa, int64_t n,
                    const uint8_t *fa, const uint8_t *fb, int32_t *ids) {
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * n) bits++;
    int64_t size = (int64_t)1 << bits, mask = size - 1;
    int32_t *slot = malloc((size_t)size * sizeof(int32_t)); /* the first word of each id, or -1 */
    if (!slot) return 0;
    for (int64_t s = 0; s < size; s++) slot[s] = -1;
    for (int64_t t = 0; t < n; t++) {
        const uint8_t *wt = (t < wa ? fa : fb) + starts[t];
        int64_t len = ends[t] - starts[t];
        int64_t s = (int64_t)((hashes[t] * 0x9E3779B97F4A7C15ull) >> (64 - bits));
        for (;; s = (s + 1) & mask) {
            int32_t f = slot[s];
            if (f < 0) {
                slot[s] = (int32_t)t;
                ids[t] = (int32_t)t;
                break;
            }
            if (hashes[f] == hashes[t] && ends[f] - starts[f] == len &&
                !memcmp((f < wa ? fa : fb) + starts[f], wt, (size_t)len)) {
                ids[t] = ids[f];
                break;
            }
        }
    }
    free(slot);
    return 1;
}

/* Whether word t of fa is a function word: `stop` is a direct-mapped table of 2**stop_bits
 * slots, slot (hash * stop_mul) >> (64 - stop_bits) holding 1 + the index of the function word
 * with that hash (0: none), whose bytes are blob[off[i] .. off[i + 1]). */
typedef struct {
    const int16_t *table;
    int64_t bits;
    uint64_t mul;
    const uint8_t *blob;
    const int64_t *off;
} stops_t;

static int is_stop(const stops_t *st, uint64_t hash, const uint8_t *word, int64_t len) {
    int64_t i = st->table[(hash * st->mul) >> (64 - st->bits)] - 1;
    return i >= 0 && st->off[i + 1] - st->off[i] == len && !memcmp(st->blob + st->off[i], word, (size_t)len);
}

/* dedup.align.align on a pair of folded texts, up to its candidate passages: words, exact
 * blocks, chains (best first), the word ops of each chain, its pieces (the best-scoring runs),
 * and the pieces that pass the length, similarity and function-word tests, in the order align
 * finds them. padded = 8 spaces + fa + " " + fb + 8 spaces (n bytes, len(fa) == len_a); the
 * options are align's, with its constants (max predecessors, min content words, half the gap
 * cost, the shift cost, half the trim cost, min content share). `out` (out_len values, at least
 * 4 + 2 * cap, cap = (n - 16) / 2 + 1) takes: the number of words of fa, the number of words,
 * the number of passages, the number of ops; the words' starts (cap values) and ends (cap
 * values) in fa or fb; then (matched words, first op, ops) per passage and (kind, a0, a1, b0,
 * b1) per op. Returns 0; -1 when two different shingles share a hash (the caller takes its
 * exact path); -2 when memory ran out; -(3 + n) when `out` needs n values. */
EXPORT int64_t dd_align_found(const uint8_t *padded, int64_t n, int64_t len_a, int64_t k, int64_t max_repeats,
                              int64_t min_words, int64_t max_gap, int64_t max_pred, int64_t min_content,
                              double gap_cost, double shift_cost, double trim_cost, double min_similarity,
                              double content_share, const int16_t *stop_table, int64_t stop_bits,
                              uint64_t stop_mul, const uint8_t *stop_blob, const int64_t *stop_off, int64_t *out,
                              int64_t out_len) {
    stops_t st = {stop_table, stop_bits, stop_mul, stop_blob, stop_off};
    int64_t cap = (n - 16) / 2 + 1, result = -2;
    int64_t *starts = out + 4, *ends = out + 4 + cap, *res = out + 4 + 2 * cap, res_cap = out_len - 4 - 2 * cap;
    const uint8_t *fa = padded + 8, *fb = padded + 8 + len_a + 1;
    int64_t *lens = malloc((size_t)cap * sizeof(int64_t));
    uint64_t *hashes = malloc((size_t)cap * sizeof(uint64_t));
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    int8_t *stop = NULL;
    int64_t *blocks = NULL, *work = NULL, *pieces = NULL;
    double *score = NULL;
    ops_t ops = {0}, gap = {0}, kept = {0};
    gapctx_t g = {0};
    int64_t n_found = 0, found_cap = 0, *found = NULL, pieces_cap = 0;
    out[2] = out[3] = 0;
    if (!lens || !hashes || !ids) goto done;
    int64_t w = fold_words(padded, n, len_a, starts, ends, lens, hashes, out);
    int64_t wa = out[0], wb = w - wa;
    out[1] = w;
    if (wa < k || wb < k) {
        result = 0;
        goto done;
    }
    /* Exact blocks (room for one per a position first; more only with repeated shingles). */
    int64_t nb, bcap = wa;
    for (;;) {
        blocks = malloc((size_t)bcap * 4 * sizeof(int64_t));
        if (!blocks) goto done;
        nb = align_blocks(hashes, wa, wb, k, max_repeats, fa, starts, ends, fb, starts + wa, ends + wa, blocks, bcap);
        if (nb >= -2) break;
        free(blocks);
        bcap = -nb - 3;
    }
    if (nb < 0) {
        result = nb;
        goto done;
    }
    if (!word_ids(hashes, starts, ends, wa, w, fa, fb, ids)) goto done;
    g.ida = ids;
    g.idb = ids + wa;
    g.head = malloc((size_t)w * sizeof(int32_t));
    g.next = malloc((size_t)(wb + 1) * sizeof(int32_t));
    stop = malloc((size_t)wa + 1);
    /* work: reach, pred, trim, order, tmp, used, chain (nb each) and the chain's blocks (4 nb) */
    work = malloc((size_t)(11 * nb + 4) * sizeof(int64_t));
    score = malloc((size_t)(nb + 1) * sizeof(double));
    if (!g.head || !g.next || !stop || !work || !score) goto done;
    for (int64_t t = 0; t < w; t++) g.head[t] = -1;
    memset(stop, -1, (size_t)wa + 1);
    int64_t *reach = work, *pred = work + nb, *trim_t = work + 2 * nb, *order = work + 3 * nb;
    int64_t *tmp = work + 4 * nb, *used = work + 5 * nb, *chain = work + 6 * nb, *cb = work + 7 * nb;
    /* dedup.align._chains: the chaining DP. */
    for (int64_t x = 0; x < nb; x++) {
        int64_t a1 = blocks[4 * x + 1];
        reach[x] = x && reach[x - 1] > a1 ? reach[x - 1] : a1;
    }
    for (int64_t x = 0; x < nb; x++) {
        int64_t ak0 = blocks[4 * x], ak1 = blocks[4 * x + 1], bk0 = blocks[4 * x + 2];
        int64_t length = ak1 - ak0, best_p = -1, best_t = 0;
        double best = (double)length;
        int64_t lo = x > max_pred ? x - 1 - max_pred : -1, horizon = ak0 - max_gap;
        for (int64_t p = x - 1; p > lo; p--) {
            if (reach[p] < horizon) break;
            double sp = score[p];
            if (sp + (double)length <= best) continue;
            const int64_t *bp = blocks + 4 * p;
            if (bp[0] >= ak0 || bp[2] >= bk0) continue;
            int64_t ga = ak0 - bp[1], gb = bk0 - bp[3];
            if (ga > max_gap || gb > max_gap) continue;
            int64_t t = ga < gb ? ga : gb;
            t = t < 0 ? -t : 0;
            if (t >= length) continue;
            ga += t;
            gb += t;
            int64_t shift = ga >= gb ? ga - gb : gb - ga;
            double sc = sp + (double)(length - t) - gap_cost * (double)(ga + gb) - shift_cost * (double)shift;
            if (sc > best) best = sc, best_p = p, best_t = t;
        }
        score[x] = best;
        pred[x] = best_p;
        trim_t[x] = best_t;
        used[x] = 0;
        order[x] = x;
    }
    sort_by_score(order, tmp, nb, score);
    for (int64_t o = 0; o < nb; o++) {
        int64_t x = order[o];
        if (used[x]) continue;
        int64_t len = 0;
        for (int64_t cur = x; cur >= 0 && !used[cur]; cur = pred[cur]) {
            used[cur] = 1;
            chain[len++] = cur;
        }
        /* The chain's blocks in order, each but the first trimmed not to overlap its predecessor. */
        for (int64_t y = 0; y < len; y++) {
            int64_t c = chain[len - 1 - y], t = y ? trim_t[c] : 0;
            cb[4 * y] = blocks[4 * c] + t;
            cb[4 * y + 1] = blocks[4 * c + 1];
            cb[4 * y + 2] = blocks[4 * c + 2] + t;
            cb[4 * y + 3] = blocks[4 * c + 3];
        }
        if (cb[4 * len - 3] - cb[0] < min_words || cb[4 * len - 1] - cb[2] < min_words) continue;
        ops.n = 0;
        if (!word_ops(&g, cb, len, &ops, &gap)) goto done;
        /* dedup.align._pieces: the best-scoring run, then those of what is left, as ranges. */
        if (4 * ops.n + 4 > pieces_cap) {
            pieces_cap = 4 * ops.n + 4;
            int64_t *grown = realloc(pieces, (size_t)pieces_cap * sizeof(int64_t));
            if (!grown) goto done;
            pieces = grown;
        }
        int64_t n_pieces = 0, *todo = pieces + 2 * ops.n + 2, n_todo = 0, plo, phi;
        trim(ops.v, ops.n, trim_cost, &plo, &phi);
        if (ops.n <= 1 || (plo == 0 && phi == ops.n)) {
            pieces[0] = 0, pieces[1] = ops.n, n_pieces = 1;
        } else {
            todo[0] = 0, todo[1] = ops.n, n_todo = 1;
            while (n_todo) {
                n_todo--;
                int64_t s0 = todo[2 * n_todo], e0 = todo[2 * n_todo + 1];
                trim(ops.v + s0, e0 - s0, trim_cost, &plo, &phi);
                if (phi <= plo) continue;
                pieces[2 * n_pieces] = s0 + plo, pieces[2 * n_pieces + 1] = s0 + phi, n_pieces++;
                if (plo > 0) todo[2 * n_todo] = s0, todo[2 * n_todo + 1] = s0 + plo, n_todo++;
                if (s0 + phi < e0) todo[2 * n_todo] = s0 + phi, todo[2 * n_todo + 1] = e0, n_todo++;
            }
        }
        for (int64_t q = 0; q < n_pieces; q++) {
            const wop_t *v = ops.v + pieces[2 * q];
            int64_t m = pieces[2 * q + 1] - pieces[2 * q];
            int64_t n_a = v[m - 1].a1 - v[0].a0, n_b = v[m - 1].b1 - v[0].b0;
            if (n_a < min_words || n_b < min_words) continue;
            int64_t matched = 0, content;
            for (int64_t y = 0; y < m; y++)
                if (v[y].kind == OP_EQUAL) matched += v[y].a1 - v[y].a0;
            if (2.0 * (double)matched / (double)(n_a + n_b) < min_similarity) continue;
            content = matched;
            for (int64_t y = 0; y < m; y++) {
                if (v[y].kind != OP_EQUAL) continue;
                for (int64_t t = v[y].a0; t < v[y].a1; t++) {
                    if (stop[t] < 0) stop[t] = (int8_t)is_stop(&st, hashes[t], fa + starts[t], lens[t]);
                    content -= stop[t];
                }
            }
            double need = content_share * (double)(n_a < n_b ? n_a : n_b);
            if (!(need > (double)min_content)) need = (double)min_content;
            if ((double)content < need) continue;
            if (n_found == found_cap) {
                found_cap = found_cap ? 2 * found_cap : 16;
                int64_t *f = realloc(found, (size_t)found_cap * 3 * sizeof(int64_t));
                if (!f) goto done;
                found = f;
            }
            found[3 * n_found] = matched, found[3 * n_found + 1] = kept.n, found[3 * n_found + 2] = m;
            n_found++;
            for (int64_t y = 0; y < m; y++)
                if (!ops_push(&kept, v[y].kind, v[y].a0, v[y].a1, v[y].b0, v[y].b1)) goto done;
        }
    }
    if (3 * n_found + 5 * kept.n > res_cap) {
        result = -(3 + out_len - res_cap + 3 * n_found + 5 * kept.n);
        goto done;
    }
    out[2] = n_found;
    out[3] = kept.n;
    memcpy(res, found, (size_t)(3 * n_found) * sizeof(int64_t));
    memcpy(res + 3 * n_found, kept.v, (size_t)(5 * kept.n) * sizeof(int64_t));
    result = 0;
done:
    free(lens);
    free(hashes);
    free(ids);
    free(stop);
    free(blocks);
    free(work);
    free(pieces);
    free(score);
    free(found);
    free(ops.v);
    free(gap.v);
    free(kept.v);
    free(g.head);
    free(g.next);
    free(g.found);
    return result;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Compiled loops of dedup, loaded with ctypes by dedup.kernels.", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
