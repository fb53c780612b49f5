/*
 * Compiled kernels for hashwall.index: multi-index-hashing (MIH) table build,
 * exact Hamming range search (MIH probes + brute-force delta scan) and a fast
 * non-cryptographic checksum for index files.
 *
 * Why C: a range search over 10M hashes touches a few thousand random cache
 * lines per query; the only way to hit >10k queries/s on one core is a tight
 * loop with software prefetching, which numpy cannot express.
 *
 * Data layout (all little-endian, owned by Python/numpy, passed via the buffer
 * protocol so no numpy C API is needed):
 *   hashes   uint64[n * words]        one row per hash, zero-padded to 64 bits
 *   starts   uint32[m], widths uint32[m]   bit range of each substring (<= 32 bits)
 *   shifts   uint32[m]                 table i has 2^(w_i + shifts[i]) slots (at least 16):
 *                                     bucket `key` lives in slot key << shifts[i], so a
 *                                     shift of 1 leaves room for rows in the same line
 *   slots    uint32[sum(max(16, 2^(w_i + shift_i)))]  per table concatenated, 16 per line:
 *              SLOT_EMPTY             empty slot
 *              r < 2^30               the bucket's only row, stored inline
 *              TAG_DATA | r           a row of another bucket of the same 64-byte line
 *                                     (reads as empty when probed)
 *              TAG_LINE | bitmap      >= 2 rows, held in the TAG_DATA slots of this line
 *                                     picked by the 16-bit bitmap
 *              TAG_OV | i             >= 2 rows that did not fit in the line:
 *                                     overflow[i] is the count, overflow[i + 1 ..] the rows
 *   overflow uint32[...]              multi-row buckets that spilled, all tables concatenated
 * A probe reads one slot line; singletons and most multi-row buckets are answered by
 * that line alone, so a bucket costs one cache miss instead of two (CSR offsets/rows).
 * Every function releases the GIL while it computes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
/* One binary for every x86-64: the popcnt clone is picked at load time. */
#define HW_HOT __attribute__((target_clones("popcnt", "default")))
#else
#define HW_HOT
#endif

#ifndef PREFETCH_DIST
#define PREFETCH_DIST 64
#endif
/* Software prefetch into L2 (prefetcht1), not L1 (prefetcht0, the default hint): the
 * prefetched lines are read a few dozen iterations later, so L2 latency is hidden
 * anyway, and more misses stay in flight: 0.91x CPU per query at 10M (same process;
 * docs/index.md, "What was tried"). */
#define PREFETCH(p) __builtin_prefetch((p), 0, 2)
#define SLOT_EMPTY 0xffffffffu
#define TAG_DATA 0x40000000u
#define TAG_LINE 0x80000000u
#define TAG_OV 0xc0000000u
#define ROW_BITS30 0x3fffffffu /* rows and overflow indices are < 2^30 - 1 */
#define LINE 16u

static inline uint32_t extract_key(const uint64_t *row, uint32_t start, uint32_t width) {
    uint32_t w = start >> 6, off = start & 63;
    uint64_t v = row[w] >> off;
    if (off + width > 64) v |= row[w + 1] << (64 - off);
    return (uint32_t)(width == 32 ? (v & 0xffffffffULL) : (v & ((1ULL << width) - 1)));
}

static inline uint32_t hamming(const uint64_t *a, const uint64_t *b, Py_ssize_t words) {
    uint32_t d = 0;
    for (Py_ssize_t i = 0; i < words; i++) d += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
    return d;
}

static inline uint32_t hamming4(const uint64_t *a, const uint64_t *b) {
    return (uint32_t)(__builtin_popcountll(a[0] ^ b[0]) + __builtin_popcountll(a[1] ^ b[1]) +
                      __builtin_popcountll(a[2] ^ b[2]) + __builtin_popcountll(a[3] ^ b[3]));
}

/* ---------------------------------------------------------------- growable buffers */

typedef struct {
    uint64_t *data;
    size_t len, cap;
} vec64;

static int vec_reserve(vec64 *v, size_t extra) {
    if (v->len + extra <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < v->len + extra) cap *= 2;
    uint64_t *d = (uint64_t *)realloc(v->data, cap * sizeof(uint64_t));
    if (!d) return -1;
    v->data = d;
    v->cap = cap;
    return 0;
}

static inline int vec_push(vec64 *v, uint64_t x) {
    if (v->len == v->cap && vec_reserve(v, 1)) return -1;
    v->data[v->len++] = x;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sort one query's hits by (distance, row) and drop duplicates: a true match
 * is usually found through several tables. Returns the new length. */
static size_t sort_unique(uint64_t *a, size_t n) {
    if (n < 2) return n;
    if (n < 32) {
        for (size_t i = 1; i < n; i++) {
            uint64_t x = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > x) { a[j] = a[j - 1]; j--; }
            a[j] = x;
        }
    } else {
        qsort(a, n, sizeof(uint64_t), cmp_u64);
    }
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (a[i] != a[k - 1]) a[k++] = a[i];
    return k;
}

/* ---------------------------------------------------------------- build */

static size_t table_slots(uint32_t width, uint32_t shift) {
    size_t nb = (size_t)1 << (width + shift);
    return nb < LINE ? LINE : nb;
}

typedef struct {
    uint32_t slot, count;
    size_t first; /* index into the sorted pairs */
} pending_t;

/* Place the multi-row buckets of one line: into free slots of the line when they fit
 * (in key order), else into the overflow array. Returns -1 if overflow is full. */
static int flush_line(uint32_t *line, uint32_t used, const pending_t *pd, int np,
                      const uint64_t *a, uint32_t *ov, size_t *pos, size_t ov_cap) {
    uint32_t fr = ~used & 0xffffu;
    for (int i = 0; i < np; i++) {
        uint32_t c = pd[i].count;
        if ((uint32_t)__builtin_popcount(fr) >= c) {
            uint32_t bm = 0;
            for (uint32_t j = 0; j < c; j++) {
                uint32_t b = fr & (~fr + 1);
                fr ^= b;
                bm |= b;
                line[__builtin_ctz(b)] = TAG_DATA | (uint32_t)a[pd[i].first + j];
            }
            line[pd[i].slot] = TAG_LINE | bm;
        } else {
            if (*pos + 1 + c > ov_cap || *pos >= ROW_BITS30) return -1;
            line[pd[i].slot] = TAG_OV | (uint32_t)*pos;
            ov[(*pos)++] = c;
            for (uint32_t j = 0; j < c; j++) ov[(*pos)++] = (uint32_t)a[pd[i].first + j];
        }
    }
    return 0;
}

static PyObject *py_build(PyObject *self, PyObject *args) {
    Py_buffer hb, sb, wb, xb, ob, rb;
    Py_ssize_t n, words;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nny*y*y*w*w*", &hb, &n, &words, &sb, &wb, &xb, &ob, &rb))
        return NULL;
    const uint64_t *hashes = (const uint64_t *)hb.buf;
    const uint32_t *starts = (const uint32_t *)sb.buf, *widths = (const uint32_t *)wb.buf;
    const uint32_t *shifts = (const uint32_t *)xb.buf;
    uint32_t *slots = (uint32_t *)ob.buf, *ov = (uint32_t *)rb.buf;
    Py_ssize_t m = sb.len / 4;
    size_t ov_cap = (size_t)rb.len / 4;
    int bad = (hb.len < n * words * 8) || (wb.len != sb.len) || (xb.len != sb.len) ||
              (n >= (Py_ssize_t)ROW_BITS30);
    size_t need = 0;
    for (Py_ssize_t i = 0; i < m && !bad; i++) {
        if (widths[i] < 1 || widths[i] > 32 || shifts[i] > 4 || widths[i] + shifts[i] > 32 ||
            starts[i] + widths[i] > (uint64_t)words * 64) bad = 1;
        else need += table_slots(widths[i], shifts[i]);
    }
    if (bad || (size_t)ob.len < need * 4) {
        PyBuffer_Release(&hb); PyBuffer_Release(&sb); PyBuffer_Release(&wb); PyBuffer_Release(&xb);
        PyBuffer_Release(&ob); PyBuffer_Release(&rb);
        PyErr_SetString(PyExc_ValueError, "build: buffer sizes do not match the table layout");
        return NULL;
    }
    /* LSD radix sort of (key << 32 | row) pairs, <= 8 bits per pass: every pass
     * streams memory into 256 write streams, unlike a direct counting sort whose
     * random increments/scatters over a 2^24-entry table miss cache on every row. */
    size_t cnt = (size_t)(n ? n : 1);
    uint64_t *a = (uint64_t *)malloc(cnt * sizeof(uint64_t));
    uint64_t *b = (uint64_t *)malloc(cnt * sizeof(uint64_t));
    if (!a || !b) { free(a); free(b); PyBuffer_Release(&hb); PyBuffer_Release(&sb);
                    PyBuffer_Release(&wb); PyBuffer_Release(&xb); PyBuffer_Release(&ob);
                    PyBuffer_Release(&rb); return PyErr_NoMemory(); }
    size_t pos = 0;
    int too_big = 0;
    Py_BEGIN_ALLOW_THREADS
    size_t sbase = 0;
    for (Py_ssize_t t = 0; t < m && !too_big; t++) {
        uint32_t width = widths[t], sh = shifts[t];
        size_t ns = table_slots(width, sh);
        uint32_t *sl = slots + sbase;
        int passes = (int)((width + 7) / 8);
        size_t hist[4][256];
        memset(hist, 0, sizeof(hist));
        for (Py_ssize_t r = 0; r < n; r++) {
            uint32_t k = extract_key(hashes + (size_t)r * words, starts[t], width);
            a[r] = ((uint64_t)k << 32) | (uint64_t)r;
            for (int p = 0; p < passes; p++) hist[p][(k >> (8 * p)) & 255]++;
        }
        for (int p = 0; p < passes; p++) {
            size_t acc = 0;
            for (int d = 0; d < 256; d++) { size_t c = hist[p][d]; hist[p][d] = acc; acc += c; }
            int sh8 = 32 + 8 * p;
            for (Py_ssize_t r = 0; r < n; r++) {
                uint64_t v = a[r];
                b[hist[p][(v >> sh8) & 255]++] = v;
            }
            uint64_t *tmp = a; a = b; b = tmp;
        }
        for (size_t i = 0; i < ns; i++) sl[i] = SLOT_EMPTY;
        /* a is sorted by key, rows ascending within a key: fill line by line */
        pending_t pd[LINE];
        int npd = 0;
        size_t cur_line = (size_t)-1;
        uint32_t used = 0;
        Py_ssize_t r = 0;
        while (r < n) {
            uint64_t key = a[r] >> 32;
            Py_ssize_t e = r + 1;
            while (e < n && (a[e] >> 32) == key) e++;
            size_t slot = (size_t)key << sh, line = slot / LINE;
            if (line != cur_line) {
                if (npd && flush_line(sl + cur_line * LINE, used, pd, npd, a, ov, &pos, ov_cap)) {
                    too_big = 1;
                    break;
                }
                npd = 0;
                cur_line = line;
                used = 0;
                /* slots of keys in this line are reserved even when empty, so probes
                 * always read a well-defined value */
            }
            used |= 1u << (slot % LINE);
            if (e - r == 1) {
                sl[slot] = (uint32_t)a[r];
            } else {
                pd[npd].slot = (uint32_t)(slot % LINE);
                pd[npd].count = (uint32_t)(e - r);
                pd[npd].first = (size_t)r;
                npd++;
            }
            r = e;
        }
        if (!too_big && npd && flush_line(sl + cur_line * LINE, used, pd, npd, a, ov, &pos, ov_cap))
            too_big = 1;
        sbase += ns;
    }
    Py_END_ALLOW_THREADS
    free(a); free(b);
    PyBuffer_Release(&hb); PyBuffer_Release(&sb); PyBuffer_Release(&wb); PyBuffer_Release(&xb);
    PyBuffer_Release(&ob); PyBuffer_Release(&rb);
    if (too_big) {
        PyErr_SetString(PyExc_ValueError, "build: overflow table full (more than 2^30 words); shard the bank");
        return NULL;
    }
    return PyLong_FromSize_t(pos);
}

/* ---------------------------------------------------------------- search */

typedef struct {
    const uint64_t *hashes;
    Py_ssize_t n, words;
    Py_ssize_t m;
    const uint32_t *starts, *widths, *shifts, *slots, *ov;
    size_t ov_len;
    const int32_t *thresholds;
    const uint8_t *deleted; /* may be NULL */
    const uint64_t *dhashes;
    Py_ssize_t dn;
    const uint8_t *dalive; /* may be NULL */
    uint32_t radius;
    int scan;
} search_ctx;

/* All masks of `width` bits with popcount <= t, in a flat array (Gosper's hack). */
static uint32_t *make_masks(uint32_t width, int32_t t, size_t *count) {
    size_t total = 0, c = 1;
    for (int32_t j = 0; j <= t && (uint32_t)j <= width; j++) {
        total += c;
        c = c * (width - (uint32_t)j) / ((uint32_t)j + 1);
    }
    uint32_t *out = (uint32_t *)malloc((total ? total : 1) * sizeof(uint32_t));
    if (!out) return NULL;
    size_t k = 0;
    uint64_t limit = 1ULL << width;
    for (int32_t j = 0; j <= t && (uint32_t)j <= width; j++) {
        if (j == 0) { out[k++] = 0; continue; }
        uint64_t v = (1ULL << j) - 1;
        while (v < limit) {
            out[k++] = (uint32_t)v;
            uint64_t lo = v & (~v + 1), hi = v + lo;
            v = (((hi ^ v) >> 2) / lo) | hi;
        }
    }
    *count = k;
    return out;
}

typedef struct {
    uint32_t **masks;
    size_t *nmasks;
    size_t *sbase;
    uint32_t *probe;  /* scratch: global slot index per probe */
    uint32_t *mval;   /* scratch: slot value per multi-row bucket */
    uint32_t *mslot;  /* scratch: global slot index per multi-row bucket */
    uint32_t *cand;   /* scratch: candidate rows */
    size_t probe_cap, cand_cap;
    size_t np, k, nmul; /* probes, candidates, multi-row buckets of the query in flight */
} plan_t;

static void plan_free(plan_t *p, Py_ssize_t m) {
    if (p->masks) for (Py_ssize_t i = 0; i < m; i++) free(p->masks[i]);
    free(p->masks); free(p->nmasks); free(p->sbase);
    free(p->probe); free(p->mval); free(p->mslot); free(p->cand);
}

/* Masks in ascending numeric order: a key's slot line is (key ^ mask) >> line_bits, so
 * masks with equal mask >> line_bits (adjacent in this order) land in the same 64-byte
 * line of slots, whatever the key, and the second access hits L1. (Sorting by
 * (mask >> line_bits, mask) is the same order; no per-table comparator state.) */
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int plan_init(plan_t *p, const search_ctx *c) {
    memset(p, 0, sizeof(*p));
    Py_ssize_t m = c->m;
    p->masks = (uint32_t **)calloc((size_t)(m ? m : 1), sizeof(uint32_t *));
    p->nmasks = (size_t *)calloc((size_t)(m ? m : 1), sizeof(size_t));
    p->sbase = (size_t *)calloc((size_t)(m ? m : 1), sizeof(size_t));
    if (!p->masks || !p->nmasks || !p->sbase) return -1;
    size_t sb = 0, total = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        p->sbase[i] = sb;
        sb += table_slots(c->widths[i], c->shifts[i]);
        if (c->scan || c->thresholds[i] < 0) continue;
        p->masks[i] = make_masks(c->widths[i], c->thresholds[i], &p->nmasks[i]);
        if (!p->masks[i]) return -1;
        qsort(p->masks[i], p->nmasks[i], sizeof(uint32_t), cmp_u32);
        total += p->nmasks[i];
    }
    p->probe_cap = total ? total : 1;
    p->probe = (uint32_t *)malloc(p->probe_cap * sizeof(uint32_t));
    p->mval = (uint32_t *)malloc(p->probe_cap * sizeof(uint32_t));
    p->mslot = (uint32_t *)malloc(p->probe_cap * sizeof(uint32_t));
    /* stage 1 writes one (possibly discarded) candidate per probe */
    p->cand_cap = p->probe_cap + 4096;
    p->cand = (uint32_t *)malloc(p->cand_cap * sizeof(uint32_t));
    return (p->probe && p->mval && p->mslot && p->cand) ? 0 : -1;
}

/* MIH lookup, pipelined over the queries of a batch: each query goes through
 *   probe generation (mih_gen): every slot to read, masks sorted by slot line;
 *   stage 1: read one slot per probe; singletons become candidates, multi-row
 *            buckets are queued;
 *   stage 2 (mih_expand): rows of the multi-row buckets join the candidates;
 *   stage 3: verify the candidates' hashes.
 * Stages 1 and 3 are a few thousand independent cache misses each, prefetched
 * ahead. mih_step runs stage 3 of one query and stage 1 of the next in one loop,
 * so both streams of misses are in flight together and neither pipeline drains
 * between the stages (0.93-0.94x CPU per query at 10M vs one query at a time). */
static void mih_gen(const search_ctx *c, plan_t *p, const uint64_t *q) {
    size_t np = 0;
    for (Py_ssize_t i = 0; i < c->m; i++) {
        if (!p->masks[i]) continue;
        uint32_t key = extract_key(q, c->starts[i], c->widths[i]);
        const uint32_t *mk = p->masks[i];
        uint32_t base = (uint32_t)p->sbase[i], sh = c->shifts[i];
        size_t nm = p->nmasks[i];
        for (size_t j = 0; j < nm; j++) p->probe[np++] = base + ((key ^ mk[j]) << sh);
    }
    p->np = np;
    p->k = p->nmul = 0;
}

HW_HOT
static int mih_expand(const search_ctx *c, plan_t *p) {
    const uint32_t *slots = c->slots;
    uint32_t *cand = p->cand, *mval = p->mval, *mslot = p->mslot;
    size_t nmul = p->nmul, k = p->k;
    /* stage 2: rows of multi-row buckets. Spilled buckets (TAG_OV) are split off
     * branch-free and their overflow lines prefetched all at once; in-line buckets
     * (rows in free slots of their own line, still in cache) are compacted in place
     * in mval/mslot and expanded without branches for the usual <= 4 rows (a loop
     * over the bitmap mispredicted on nearly every bucket). Then the spilled ones. */
    const uint32_t *ov = c->ov;
    size_t ovl = c->ov_len;
    uint32_t *ovq = p->probe; /* the probe list is no longer needed */
    size_t nl = 0, no = 0;
    for (size_t j = 0; j < nmul; j++) {
        uint32_t sv = mval[j], g = mslot[j], is_ov = sv >= TAG_OV;
        mval[nl] = sv;
        mslot[nl] = g;
        nl += !is_ov;
        ovq[no] = sv & ROW_BITS30;
        no += is_ov;
    }
    for (size_t j = 0; j < no; j++)
        if (ovq[j] < ovl) PREFETCH(ov + ovq[j]);
    /* an in-line bucket has < LINE rows; + LINE for the unconditional 4-row writes */
    size_t need = k + nl * LINE + LINE;
    if (need > p->cand_cap) {
        size_t cap = p->cand_cap;
        while (cap < need) cap *= 2;
        uint32_t *nc = (uint32_t *)realloc(p->cand, cap * sizeof(uint32_t));
        if (!nc) return -1;
        p->cand = cand = nc;
        p->cand_cap = cap;
    }
    for (size_t j = 0; j < nl; j++) {
        /* the slot lines were read in stage 1 but have left L1 since: fetch ahead */
        if (j + 32 < nl) __builtin_prefetch(slots + mslot[j + 32], 0, 3);
        const uint32_t *line = slots + (mslot[j] & ~(LINE - 1));
        uint32_t bm = mval[j] & 0xffffu, cnt = (uint32_t)__builtin_popcount(bm);
        /* once the bitmap is exhausted, slot 0 of the line is read and written past
         * the end of the list (k only advances by cnt): harmless */
        uint32_t i0 = (uint32_t)__builtin_ctz(bm | 0x10000u) & (LINE - 1);
        bm &= bm - 1;
        uint32_t i1 = (uint32_t)__builtin_ctz(bm | 0x10000u) & (LINE - 1);
        bm &= bm - 1;
        uint32_t i2 = (uint32_t)__builtin_ctz(bm | 0x10000u) & (LINE - 1);
        bm &= bm - 1;
        uint32_t i3 = (uint32_t)__builtin_ctz(bm | 0x10000u) & (LINE - 1);
        bm &= bm - 1;
        cand[k] = line[i0] & ROW_BITS30;
        cand[k + 1] = line[i1] & ROW_BITS30;
        cand[k + 2] = line[i2] & ROW_BITS30;
        cand[k + 3] = line[i3] & ROW_BITS30;
        if (cnt <= 4) {
            k += cnt;
        } else {
            k += 4;
            while (bm) {
                cand[k++] = line[__builtin_ctz(bm)] & ROW_BITS30;
                bm &= bm - 1;
            }
        }
    }
    for (size_t j = 0; j < no; j++) {
        size_t at = ovq[j];
        if (at >= ovl) continue; /* only a corrupted table gets here */
        size_t len = ov[at];
        if (len > ovl - at - 1) len = ovl - at - 1;
        if (k + len > p->cand_cap) {
            size_t cap = p->cand_cap;
            while (cap < k + len) cap *= 2;
            uint32_t *nc = (uint32_t *)realloc(p->cand, cap * sizeof(uint32_t));
            if (!nc) return -1;
            p->cand = cand = nc;
            p->cand_cap = cap;
        }
        const uint32_t *src = ov + at + 1;
        for (size_t e = 0; e < len; e++) cand[k++] = src[e];
    }
    /* Rows >= n only come from a corrupted table; clamping keeps every read of
     * stage 3 inside `hashes`. */
    uint32_t last = (uint32_t)(c->n - 1);
    for (size_t j = 0; j < k; j++) cand[j] = cand[j] > last ? last : cand[j];
    p->k = k;
    return 0;
}

#if defined(__GNUC__)
#define HW_INLINE static inline __attribute__((always_inline))
#else
#define HW_INLINE static inline
#endif

/* Stage 3 of query `q` (plan `pa`, may be NULL: none) appending (dist << 40 | row)
 * to out, interleaved with stage 1 of the next query (plan `pb`, may be NULL).
 * W is a constant in the 256-bit instance below. */
HW_INLINE int mih_step_w(const search_ctx *c, const plan_t *pa, const uint64_t *q, vec64 *out,
                         plan_t *pb, Py_ssize_t W) {
    const uint64_t *H = c->hashes;
    const uint32_t *slots = c->slots;
    uint32_t r = c->radius;
    const uint32_t *cand = pa ? pa->cand : NULL;
    size_t k = pa ? pa->k : 0, ja = 0;
    /* stage 1 is branch-free: about half the slots are empty, so a branch there
     * would mispredict constantly */
    const uint32_t *probe = pb ? pb->probe : NULL;
    uint32_t *cb = pb ? pb->cand : NULL, *mval = pb ? pb->mval : NULL;
    uint32_t *mslot = pb ? pb->mslot : NULL;
    size_t np = pb ? pb->np : 0, jb = 0, kb = 0, nmul = 0;
    while (ja < k || jb < np) {
        if (ja < k) {
            if (ja + PREFETCH_DIST < k) PREFETCH(H + (size_t)cand[ja + PREFETCH_DIST] * (size_t)W);
            uint32_t row = cand[ja++];
            uint32_t d = W == 4 ? hamming4(H + (size_t)row * 4, q) : hamming(H + (size_t)row * W, q, W);
            if (d <= r && !(c->deleted && c->deleted[row]))
                if (vec_push(out, ((uint64_t)d << 40) | row)) return -1;
        }
        if (jb < np) {
            if (jb + PREFETCH_DIST < np) PREFETCH(slots + probe[jb + PREFETCH_DIST]);
            uint32_t g = probe[jb++], sv = slots[g];
            cb[kb] = sv;
            kb += sv < TAG_DATA;
            mval[nmul] = sv;
            mslot[nmul] = g;
            nmul += (sv >= TAG_LINE) & (sv != SLOT_EMPTY);
        }
    }
    if (pb) {
        pb->k = kb;
        pb->nmul = nmul;
    }
    return 0;
}

HW_HOT
static int mih_step(const search_ctx *c, const plan_t *pa, const uint64_t *q, vec64 *out,
                    plan_t *pb) {
    return c->words == 4 ? mih_step_w(c, pa, q, out, pb, 4) : mih_step_w(c, pa, q, out, pb, c->words);
}

/* Brute force over `n` rows starting at row number `row0` in the output numbering. */
HW_HOT
static int scan_rows(const uint64_t *H, Py_ssize_t n, Py_ssize_t W, const uint8_t *skip,
                     int skip_is_alive, const uint64_t *q, uint32_t r, uint64_t row0, vec64 *out) {
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t d = (W == 4) ? hamming4(H + (size_t)i * 4, q) : hamming(H + (size_t)i * W, q, W);
        if (d > r) continue;
        if (skip && ((skip[i] != 0) != (skip_is_alive != 0))) continue;
        if (vec_push(out, ((uint64_t)d << 40) | (row0 + (uint64_t)i))) return -1;
    }
    return 0;
}

static PyObject *py_search(PyObject *self, PyObject *args) {
    Py_buffer hb, sb, wb, xb, ob, rb, tb, qb, db, dhb, dab;
    Py_ssize_t n, words, dn;
    unsigned int radius;
    int scan;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nny*y*y*y*y*y*y*Iy*y*ny*p", &hb, &n, &words, &sb, &wb, &xb, &ob,
                          &rb, &tb, &qb, &radius, &db, &dhb, &dn, &dab, &scan))
        return NULL;
    search_ctx c;
    c.hashes = (const uint64_t *)hb.buf; c.n = n; c.words = words;
    c.m = sb.len / 4;
    c.starts = (const uint32_t *)sb.buf; c.widths = (const uint32_t *)wb.buf;
    c.shifts = (const uint32_t *)xb.buf;
    c.slots = (const uint32_t *)ob.buf; c.ov = (const uint32_t *)rb.buf;
    c.ov_len = (size_t)rb.len / 4;
    c.thresholds = (const int32_t *)tb.buf;
    c.deleted = db.len ? (const uint8_t *)db.buf : NULL;
    c.dhashes = (const uint64_t *)dhb.buf; c.dn = dn;
    c.dalive = dab.len ? (const uint8_t *)dab.buf : NULL;
    c.radius = radius; c.scan = scan;
    Py_ssize_t nq = words ? qb.len / (words * 8) : 0;
    PyObject *result = NULL;
    const char *err = NULL;
    size_t need = 0;
    int bad_layout = xb.len != sb.len;
    for (Py_ssize_t i = 0; i < c.m && !bad_layout; i++) {
        if (c.widths[i] < 1 || c.widths[i] > 32 || c.shifts[i] > 4 || c.widths[i] + c.shifts[i] > 32)
            bad_layout = 1;
        else need += table_slots(c.widths[i], c.shifts[i]);
    }
    if (words < 1 || hb.len < n * words * 8 || wb.len != sb.len || tb.len != sb.len || bad_layout ||
        (!scan && ((size_t)ob.len < need * 4 || need > 0xffffffffu || n >= (Py_ssize_t)ROW_BITS30)) ||
        (db.len && db.len < n) || dhb.len < dn * words * 8 || (dab.len && dab.len < dn) ||
        qb.len != nq * words * 8) {
        err = "search: buffer sizes do not match the index layout";
    }
    vec64 out = {0};
    int64_t *counts = (int64_t *)calloc((size_t)(nq ? nq : 1), sizeof(int64_t));
    plan_t plan, plan2; /* two queries in flight: see mih_step */
    int rc = 0, plan_ok = 0;
    if (!err && !counts) rc = -1;
    if (!err && !rc) {
        memset(&plan2, 0, sizeof(plan2));
        plan_ok = 1;
        rc = plan_init(&plan, &c);
        if (!rc) rc = plan_init(&plan2, &c);
    }
    if (!err && !rc) {
        Py_BEGIN_ALLOW_THREADS
        /* MIH: `cur` holds the query being answered (stages 1-2 done), `nxt` the next */
        plan_t *cur = &plan, *nxt = &plan2;
        int mih = !scan && n;
        if (mih && nq) {
            mih_gen(&c, cur, (const uint64_t *)qb.buf);
            rc = mih_step(&c, NULL, NULL, &out, cur) || mih_expand(&c, cur);
        }
        for (Py_ssize_t qi = 0; qi < nq && !rc; qi++) {
            const uint64_t *q = (const uint64_t *)qb.buf + (size_t)qi * words;
            size_t before = out.len;
            if (scan) {
                rc = scan_rows(c.hashes, n, words, c.deleted, 0, q, radius, 0, &out);
            } else if (mih) {
                int more = qi + 1 < nq;
                if (more) mih_gen(&c, nxt, q + words);
                rc = mih_step(&c, cur, q, &out, more ? nxt : NULL);
                if (!rc && more) rc = mih_expand(&c, nxt);
                plan_t *t = cur;
                cur = nxt;
                nxt = t;
            }
            if (!rc && dn) rc = scan_rows(c.dhashes, dn, words, c.dalive, 1, q, radius, (uint64_t)n, &out);
            if (!rc) {
                size_t k = sort_unique(out.data + before, out.len - before);
                out.len = before + k;
                counts[qi] = (int64_t)k;
            }
        }
        Py_END_ALLOW_THREADS
    }
    if (plan_ok) {
        plan_free(&plan, c.m);
        plan_free(&plan2, c.m);
    }
    if (err) PyErr_SetString(PyExc_ValueError, err);
    else if (rc) PyErr_NoMemory();
    else {
        PyObject *hits = PyBytes_FromStringAndSize((const char *)out.data, (Py_ssize_t)(out.len * 8));
        PyObject *cnt = PyBytes_FromStringAndSize((const char *)counts, (Py_ssize_t)(nq * 8));
        if (hits && cnt) result = PyTuple_Pack(2, hits, cnt);
        Py_XDECREF(hits); Py_XDECREF(cnt);
    }
    free(out.data); free(counts);
    PyBuffer_Release(&hb); PyBuffer_Release(&sb); PyBuffer_Release(&wb); PyBuffer_Release(&ob);
    PyBuffer_Release(&xb); PyBuffer_Release(&rb); PyBuffer_Release(&tb); PyBuffer_Release(&qb); PyBuffer_Release(&db);
    PyBuffer_Release(&dhb); PyBuffer_Release(&dab);
    return result;
}

/* ---------------------------------------------------------------- validate */

/* One sequential pass over loaded tables: 0 if every slot and overflow word is in
 * range, 1 for a bad slot, 2 for a bad overflow table. (Bucket lengths and rows are
 * clamped again by the search kernel, so this is about reporting corruption.) */
static PyObject *py_validate(PyObject *self, PyObject *args) {
    Py_buffer ob, rb;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*n", &ob, &rb, &n)) return NULL;
    const uint32_t *sl = (const uint32_t *)ob.buf, *ov = (const uint32_t *)rb.buf;
    size_t ns = (size_t)ob.len / 4, nov = (size_t)rb.len / 4;
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    uint32_t bad_row = 0, bad_at = 0, bad_ov = 0;
    for (size_t i = 0; i < ns; i++) {
        uint32_t v = sl[i], tag = v & TAG_OV, low = v & ROW_BITS30;
        bad_row |= (tag <= TAG_DATA) & (low >= (uint64_t)n);
        bad_at |= (tag == TAG_OV) & (v != SLOT_EMPTY) & (low >= nov);
    }
    for (size_t i = 0; i < nov; i++) bad_ov |= ov[i] > (uint64_t)n;
    rc = (bad_row | bad_at) ? 1 : bad_ov ? 2 : 0;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&ob); PyBuffer_Release(&rb);
    return PyLong_FromLong(rc);
}

/* ---------------------------------------------------------------- checksum */

/* 64-bit non-cryptographic checksum (four independent multiply-rotate lanes) used
 * to detect truncated or corrupted index files; several GB/s, so verifying on
 * load stays inside the load-time budget. */
static PyObject *py_checksum(PyObject *self, PyObject *args) {
    Py_buffer b;
    unsigned long long seed = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*|K", &b, &seed)) return NULL;
    const unsigned char *p = (const unsigned char *)b.buf;
    size_t len = (size_t)b.len;
    const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL;
    uint64_t h[4] = {seed + P1, seed ^ P2, seed + 0x165667B19E3779F9ULL, seed - P1};
    Py_BEGIN_ALLOW_THREADS
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] += w * P2;
            h[l] = (h[l] << 31) | (h[l] >> 33);
            h[l] *= P1;
        }
    }
    uint64_t acc = (uint64_t)len * P1;
    for (int l = 0; l < 4; l++) { acc ^= h[l]; acc = ((acc << 27) | (acc >> 37)) * P1 + P2; }
    for (; i < len; i++) { acc ^= p[i]; acc *= P2; acc = (acc << 23) | (acc >> 41); }
    acc ^= acc >> 33; acc *= P2; acc ^= acc >> 29;
    h[0] = acc;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLongLong(h[0]);
}

static PyMethodDef methods[] = {
    {"build", py_build, METH_VARARGS, "Radix-sort the MIH bucket tables; returns overflow words used."},
    {"search", py_search, METH_VARARGS, "Exact Hamming range search (MIH or scan) plus delta."},
    {"checksum", py_checksum, METH_VARARGS, "64-bit checksum of a buffer."},
    {"validate", py_validate, METH_VARARGS, "Range-check loaded slot and overflow tables."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_mih", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__mih(void) { return PyModule_Create(&moddef); }
