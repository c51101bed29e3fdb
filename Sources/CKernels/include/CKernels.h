#ifndef QBENCH_CKERNELS_H
#define QBENCH_CKERNELS_H

// Small numeric kernels in C: each is written once over explicit lanes and compiled twice, for
// AVX2 and for the portable x86-64 (or other) baseline; the two builds do the same arithmetic in
// the same order (no fused multiply-add, no reassociation), so their results are bit-identical and
// the choice, made at run time from the CPU, never shows in a result.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which build of a kernel runs: the best the CPU supports, the portable one, or the AVX2 one where
/// a kernel also has an AVX-512 build (tests compare them all; every build gives the same bits).
typedef enum { QK_BEST = 0, QK_PORTABLE = 1, QK_AVX2_ONLY = 2 } qk_path;

/// Whether the AVX2 build is used on this CPU under QK_BEST.
int qk_uses_avx2(void);

/// Whether the AVX-512 build (F, DQ, BW, VL) is used on this CPU under QK_BEST (kernels that have one:
/// `qk_ziggurat_fast`, the wedge decisions of `qk_ziggurat_slow`, `qk_returned_row`, `qk_burst_sums`,
/// `qk_shot_fields`).
int qk_uses_avx512(void);

/// xoshiro256** lanes of the ziggurat's fast path (Gaussian.BulkSampler).
#define QK_ZIGGURAT_LANES 8

/// The ziggurat's fast path over `QK_ZIGGURAT_LANES` xoshiro256** generators. `state` holds the
/// lanes word-major (s0 of every lane, then s1, s2, s3) and is advanced. Step t of the lanes gives
/// 2·LANES 32-bit words, word j being the low (j < LANES) or high half of lane j mod LANES's output;
/// sample i of `out` comes from word i of the concatenated steps (a partial last step is drawn whole).
/// A word's low 8 bits pick the layer, its top 24 bits (signed, h) the position: out[i] =
/// (h + ½) · scale[layer] when |h + ½| is inside the layer's bound (h ^ (h >> 31) < bound[layer]).
/// Every other sample is left for the caller's slow path: its index goes to `index` and its word to
/// `word` (in increasing index), and the count is returned (at most n). Each list must hold
/// n + QK_ZIGGURAT_SLACK elements: the AVX-512 build stores a step's sixteen candidates at once.
size_t qk_ziggurat_fast(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale,
                        uint32_t *index, uint32_t *word, qk_path path);

/// Elements beyond n that `qk_ziggurat_fast` may write in each of its rejected lists.
#define QK_ZIGGURAT_SLACK 16

/// The ziggurat's tables for the rare path: layer edges x[0…256] (x[1] = r, x[256] = 0), the
/// density f[i] = exp(−x[i]²/2), the slope of its chord over each layer (from x[i+1] to x[i]), and
/// the fast path's bound and scale.
typedef struct {
    const double *x, *f, *chordSlope;
    const int32_t *bound;
    const float *scale;
    double r;
} qk_ziggurat_tables;

/// The wedge test of layer 1…255 at xs: whether height y lies below exp(−xs²/2), decided by the
/// chord and the tangents at the layer's edges where they settle it (convex layers beyond 1,
/// concave below), by exp otherwise; the answer is the one y < exp(−xs²/2) gives.
int qk_wedge_accepts(const qk_ziggurat_tables *tables, int layer, double xs, double y);

/// The rare path for the `count` rejected samples of `qk_ziggurat_fast` (their indices and words), in
/// sample order: a wedge sample (layer ≥ 1) takes one uniform height from the xoshiro256**
/// generator `state` (s0…s3, advanced) and the wedge test decides it; a base-strip sample (layer 0)
/// and a wedge sample the test rejected then take every further draw (fresh words, the tail's
/// uniforms) from the generator `retry`. Writes out[index[t]]. The wedge tests run in batches (an
/// AVX-512 build for QK_BEST where the CPU has it); every build and batch size gives the same
/// samples.
void qk_ziggurat_slow(float *out, const uint32_t *index, const uint32_t *word, size_t count, const qk_ziggurat_tables *tables,
                      uint64_t state[4], uint64_t retry[4], qk_path path);

/// Sample-dependent sums of a range of `count` slots of the server's pattern over `shots` shots:
/// y of shot s at y[s · shotStride + k], codes[k] 0 (X), 1 (P) or above (vacuum), regressors e1[k],
/// e2[k] of the signal slots (already mapped to the slot's quadrature; finite on every slot). Each
/// slot's Σ_s y and Σ_s y² first (shots in order), then adds to sums, in order: X: Σy, Σy², Σe1·y,
/// Σe2·y; P: the same; vacuum: Σy, Σy². Double accumulation.
void qk_burst_sums(const float *y, size_t shots, size_t shotStride, const float *e1, const float *e2,
                   const uint8_t *codes, size_t count, double sums[10], qk_path path);

/// Pattern-only sums of a run of `count` signal slots (codes 0 = X, 1 = P, nothing else) of one
/// shot: writes each slot's regressors e1[k], e2[k] (X: 2 Re α, 2 Im α; P: 2 Im α, −2 Re α) and
/// isX[k] (1 or 0) for `qk_burst_sums`, and adds to sums, in order: X: n, Σe1, Σe2, Σe1², Σe2²,
/// Σe1·e2; P: the same. Double accumulation.
void qk_pattern_sums(const float *re, const float *im, const uint8_t *codes, size_t count,
                     float *e1, float *e2, float *isX, double sums[12], qk_path path);

/// What the twin's per-slot fields of a burst depend on besides the drive (BenchSim's `ShotFields`):
/// the bias rotations (cos, sin) of the I and Q arms, the IQ angle θ (cos, sin), the arms'
/// leakages δ, the light per unit field at the client input (c) and at the server receiver's input
/// (s), and the receiver's weight per slot code (X, P, vacuum).
typedef struct {
    float cbI, sbI, cbQ, sbQ, ct, st, dI, dQ;
    float cRe, cIm, sRe, sIm;
    float weightRe[3], weightIm[3];
} qk_shot_field_constants;

/// Per slot j of `count`: the arm fields by angle addition from the drive's cos/sin, the modulator's
/// field f = (t_I + e^{iθ} t_Q)/2, then, where the outputs are not NULL, the light at the client
/// input a = c·f (aRe, aIm) and, for the server receiver, the mean q = Re(s f)·Re w − Im(s f)·Im w
/// with its weight w by `codes[j]` (the receiver's weights are not written out: `qk_returned_row`
/// looks them up by code too). Float operations in the order of the Swift loops they replace, no
/// fused multiply-add.
void qk_shot_fields(const float *cosI, const float *sinI, const float *cosQ, const float *sinQ, const uint8_t *codes,
                    size_t count, const qk_shot_field_constants *constants, float *aRe, float *aIm, float *q, qk_path path);

/// The smallest and largest of `count` floats that are numbers (+∞ and −∞ when there are none),
/// and how many are NaN (a drive waveform's range, checked against its limits before upload).
size_t qk_span(const float *values, size_t count, float *lowest, float *highest, qk_path path);

/// A digitiser's transfer: code = round(v / lsb) clipped to [lowestCode, highestCode] (codes as
/// floats), sample = code · lsb; `offset` is the receiver's DC offset added before it.
typedef struct {
    float offset, lsb, inverseLSB, lowestCode, highestCode;
} qk_digitiser;

/// Digitises `count` samples in place (the transfer above); returns how many codes are at a rail.
int32_t qk_quantise(float *samples, size_t count, const qk_digitiser *digitiser, qk_path path);

/// The server receiver's weight per slot code (X, P, vacuum): wr + i·wi = 2g√η e^{−iφ}, 0 for vacuum.
typedef struct {
    float re[3], im[3];
} qk_slot_weights;

/// The server receiver's samples of one returned row of one shot (the twin): for the first
/// `modes` slots, with the slot's weight wr + i·wi = weights[codes[j]] and
/// ar + i·ai = (xr + i·xi)(dr + i·di) (ar = xr·dr − xi·di, ai = xr·di + xi·dr),
/// v = (((q + ar·wr) − ai·wi) + σ·z) + offset; for the row's other slots (vacuum)
/// v = (q + σ·z) + offset; each v through the digitiser into out. Returns how many codes are at a
/// rail. Float arithmetic in exactly that order, no fused multiply-add. Codes above 2 read as 2.
int32_t qk_returned_row(const float *q, const uint8_t *codes, const qk_slot_weights *weights, const float *xr, const float *xi,
                        size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                        const qk_digitiser *digitiser, float *out, qk_path path);

/// A server's X/P pattern from its random bits: `rows` rows of `slotsPerRow` slot codes, each row's
/// first `modesPerRow` slots signal (code 0 for X, 1 for P: bit k of the stream, least significant
/// first in each 64-bit word, k counting the signal slots of all rows in order), the rest vacuum
/// (code 2). `bits` holds ⌈rows · modesPerRow / 64⌉ words.
void qk_pattern_from_bits(const uint64_t *bits, size_t rows, size_t modesPerRow, size_t slotsPerRow, uint8_t *codes);

#ifdef __cplusplus
}
#endif

#endif
