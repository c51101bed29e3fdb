#include "CKernels.h"
#include "Dispatch.h"
#include <math.h>

// The ziggurat's rare path (Gaussian.BulkSampler), in double precision as it was first written in
// Swift: the same operations in the same order, the same draws from the caller's xoshiro256**.

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/// Uniform in [0, 1) with 53 bits, and in (0, 1) (Xoshiro256.nextUnit, nextOpenUnit).
static inline double unit(uint64_t s[4]) { return (double)(next(s) >> 11) * 0x1.0p-53; }
static inline double openUnit(uint64_t s[4]) { return ((double)(next(s) >> 11) + 0.5) * 0x1.0p-53; }

/// The squeezes of the wedge test of layer 1…255 at xs for height y, without branches: 1 when they
/// accept, 0 when they reject, −1 when they do not settle it (the layer that straddles x = 1, or y
/// within the margin of a squeeze). Convex layers (beyond x = 1): the chord lies above the density
/// and the tangents below it; concave layers: the reverse.
QK_INLINE int wedge_verdict(const qk_ziggurat_tables *z, int layer, double xs, double y) {
    const double *x = z->x, *f = z->f;
    double a = x[layer + 1], b = x[layer], fa = f[layer + 1], fb = f[layer];
    double t = fabs(xs), margin = 1e-12 * fa;
    double chord = fa + (t - a) * z->chordSlope[layer];
    double tangentA = fa * (1 - a * (t - a)), tangentB = fb * (1 - b * (t - b));
    double upper = tangentB >= tangentA ? tangentB : tangentA, lower = tangentB < tangentA ? tangentB : tangentA;
    int convex = a >= 1, concave = b <= 1;
    int convexRejects = y > chord + margin, convexAccepts = y < upper - margin;
    int concaveAccepts = y < chord - margin, concaveRejects = y > lower + margin;
    int settled = (convex & (convexRejects | convexAccepts)) | ((!convex) & concave & (concaveAccepts | concaveRejects));
    int accepts = convex ? !convexRejects : concaveAccepts;
    return settled ? accepts : -1;
}

int qk_wedge_accepts(const qk_ziggurat_tables *z, int layer, double xs, double y) {
    int verdict = wedge_verdict(z, layer, xs, y);
    return verdict >= 0 ? verdict : y < exp(-0.5 * xs * xs);
}

/// The full rare path of one sample from its first word: the tail for layer 0, the wedge test
/// otherwise, and fresh words from `s` until one is accepted.
static float slow_sample(const qk_ziggurat_tables *z, uint32_t word, uint64_t s[4]) {
    const double *x = z->x, *f = z->f;
    int layer = (int)(word & 255);
    int32_t h = (int32_t)word >> 8;
    for (;;) {
        double u = ((double)h + 0.5) * 0x1.0p-23;
        if (layer == 0) {
            double xs = u * x[0];
            if (fabs(xs) < z->r) return (float)xs;
            // Tail beyond r, by Marsaglia's exponential rejection.
            double t, y;
            do {
                t = log(openUnit(s)) / z->r;
                y = log(openUnit(s));
            } while (-2 * y < t * t);
            return (float)(u < 0 ? t - z->r : z->r - t);
        }
        double xs = u * x[layer];
        if (fabs(u) < x[layer + 1] / x[layer]) return (float)xs;
        // Wedge: a uniform height between the layer's bottom f(x[i]) and top f(x[i+1]).
        if (qk_wedge_accepts(z, layer, xs, f[layer] + unit(s) * (f[layer + 1] - f[layer]))) return (float)xs;
        uint32_t bits = (uint32_t)next(s);
        layer = (int)(bits & 255);
        h = (int32_t)bits >> 8;
        if ((h ^ (h >> 31)) < z->bound[layer]) return ((float)h + 0.5f) * z->scale[layer];
    }
}

/// Rejected samples decided per batch.
#define BATCH 256

/// The wedge verdicts of `n` wedge samples (layers 1…255) from their words and their heights'
/// uniforms: writes each sample's position xs and height y and its verdict (`wedge_verdict`, or 1
/// inside the layer's inner rectangle). No branch on a sample's outcome, so
/// the compiler vectorises it; the same IEEE operations in every build.
QK_INLINE void wedge_verdicts(const qk_ziggurat_tables *restrict z, const uint32_t *restrict words, const double *restrict uniforms,
                              size_t n, double *restrict positions, double *restrict heights, int32_t *restrict verdicts) {
    const double *x = z->x, *f = z->f;
    for (size_t k = 0; k < n; k++) {
        int layer = (int)(words[k] & 255);
        double u = ((double)((int32_t)words[k] >> 8) + 0.5) * 0x1.0p-23;
        double xs = u * x[layer], y = f[layer] + uniforms[k] * (f[layer + 1] - f[layer]);
        int inside = fabs(u) < x[layer + 1] / x[layer];
        int verdict = wedge_verdict(z, layer, xs, y);
        verdicts[k] = inside ? 1 : verdict;
        positions[k] = xs;
        heights[k] = y;
    }
}

QK_AVX512_WIDE static void wedge_verdicts_avx512(const qk_ziggurat_tables *z, const uint32_t *words, const double *uniforms,
                                                 size_t n, double *positions, double *heights, int32_t *verdicts) {
    wedge_verdicts(z, words, uniforms, n, positions, heights, verdicts);
}

static void wedge_verdicts_portable(const qk_ziggurat_tables *z, const uint32_t *words, const double *uniforms,
                                    size_t n, double *positions, double *heights, int32_t *verdicts) {
    wedge_verdicts(z, words, uniforms, n, positions, heights, verdicts);
}

/// In batches of the rejected samples, in order. Every wedge sample (layer ≥ 1) takes one uniform
/// height from `state`, in sample order, and the squeezes decide a batch's samples at once
/// (`wedge_verdicts`, without a branch on the outcome, which is a coin toss a branch predictor
/// loses; `exp` for the few they leave open). Then, in sample order, the base-strip samples (layer
/// 0) run the full rare path from their word and the rejected wedge samples from a fresh word, all
/// their draws from `retry`. So each generator is spent in sample order and a sample's value depends
/// only on the samples before it: the batch size changes nothing, and a shorter fill is a prefix of
/// a longer one.
void qk_ziggurat_slow(float *out, const uint32_t *index, const uint32_t *word, size_t count, const qk_ziggurat_tables *z,
                      uint64_t state[4], uint64_t retry[4], qk_path path) {
    // The generators in locals: through the pointers every draw would be a store and a load.
    uint64_t heightRng[4] = {state[0], state[1], state[2], state[3]}, retryRng[4] = {retry[0], retry[1], retry[2], retry[3]};
    uint32_t wedge[BATCH], wedgeWord[BATCH], again[BATCH + 1], base[BATCH + 1];
    double uniforms[BATCH], positions[BATCH], heights[BATCH];
    int32_t verdicts[BATCH];
    for (size_t start = 0; start < count; start += BATCH) {
        size_t end = count - start < BATCH ? count : start + BATCH, wedges = 0, bases = 0, left = 0;
        for (size_t t = start; t < end; t++) {
            if ((word[t] & 255) == 0) { base[bases++] = (uint32_t)t; continue; }
            wedge[wedges] = (uint32_t)t;
            wedgeWord[wedges] = word[t];
            uniforms[wedges++] = unit(heightRng);
        }
        if (QK_WANT_AVX512(path)) wedge_verdicts_avx512(z, wedgeWord, uniforms, wedges, positions, heights, verdicts);
        else wedge_verdicts_portable(z, wedgeWord, uniforms, wedges, positions, heights, verdicts);
        for (size_t k = 0; k < wedges; k++) {
            int verdict = verdicts[k];
            // The squeezes left it open (rare): the density itself.
            if (verdict < 0) verdict = heights[k] < exp(-0.5 * positions[k] * positions[k]);
            out[index[wedge[k]]] = (float)positions[k];
            again[left] = wedge[k];
            left += (size_t)(1 - verdict);
        }
        // The base-strip samples and the rejected wedge samples, merged in sample order (each list
        // ends with a sentinel past the batch).
        base[bases] = again[left] = (uint32_t)end;
        for (size_t b = 0, k = 0; b < bases || k < left;) {
            if (base[b] < again[k]) { out[index[base[b]]] = slow_sample(z, word[base[b]], retryRng); b++; }
            else { out[index[again[k]]] = slow_sample(z, (uint32_t)next(retryRng), retryRng); k++; }
        }
    }
    for (int i = 0; i < 4; i++) { state[i] = heightRng[i]; retry[i] = retryRng[i]; }
}
