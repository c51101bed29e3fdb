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
static inline int wedge_verdict(const qk_ziggurat_tables *z, int layer, double xs, double y) {
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

void qk_ziggurat_slow(float *out, const uint32_t *index, const uint32_t *word, size_t count, const qk_ziggurat_tables *z, uint64_t state[4]) {
    for (size_t t = 0; t < count; t++) out[index[t]] = slow_sample(z, word[t], state);
}
