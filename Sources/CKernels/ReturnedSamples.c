#include "CKernels.h"
#include "Dispatch.h"

/// Adds 1.5 · 2^23 and takes it away again: rounds a float of magnitude below 2^22 to the nearest
/// integer (ties to even), the digitiser's code.
#define MAGIC 12582912.0f

QK_INLINE int32_t quantise(float v, const qk_digitiser *restrict d, float *restrict out) {
    float c = (v * d->inverseLSB + MAGIC) - MAGIC;
    // max(lowest, c) and min(highest, ·) as Swift's max and min evaluate them.
    c = c >= d->lowestCode ? c : d->lowestCode;
    c = c < d->highestCode ? c : d->highestCode;
    *out = c * d->lsb;
    return (c <= d->lowestCode ? 1 : 0) + (c >= d->highestCode ? 1 : 0);
}

QK_INLINE int32_t returned_row(const float *restrict q, const float *restrict wr, const float *restrict wi,
                               const float *restrict xr, const float *restrict xi, size_t modes, size_t slots,
                               float dr, float di, float sigma, const float *restrict z, const qk_digitiser *restrict d,
                               float *restrict out) {
    int32_t rails = 0;
    for (size_t j = 0; j < modes; j++) {
        float ar = xr[j] * dr - xi[j] * di, ai = xr[j] * di + xi[j] * dr;
        float v = (((q[j] + ar * wr[j]) - ai * wi[j]) + sigma * z[j]) + d->offset;
        rails += quantise(v, d, out + j);
    }
    for (size_t j = modes; j < slots; j++) {
        float v = (q[j] + sigma * z[j]) + d->offset;
        rails += quantise(v, d, out + j);
    }
    return rails;
}

QK_INLINE int32_t quantise_all(float *restrict v, size_t count, const qk_digitiser *restrict d) {
    int32_t rails = 0;
    for (size_t k = 0; k < count; k++) rails += quantise(v[k], d, v + k);
    return rails;
}

QK_AVX2 static int32_t quantise_avx2(float *v, size_t count, const qk_digitiser *d) { return quantise_all(v, count, d); }
static int32_t quantise_portable(float *v, size_t count, const qk_digitiser *d) { return quantise_all(v, count, d); }

int32_t qk_quantise(float *samples, size_t count, const qk_digitiser *digitiser, qk_path path) {
    return QK_WANT_AVX2(path) ? quantise_avx2(samples, count, digitiser) : quantise_portable(samples, count, digitiser);
}

QK_AVX2 static int32_t returned_row_avx2(const float *q, const float *wr, const float *wi, const float *xr, const float *xi,
                                         size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                         const qk_digitiser *d, float *out) {
    return returned_row(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

static int32_t returned_row_portable(const float *q, const float *wr, const float *wi, const float *xr, const float *xi,
                                     size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                     const qk_digitiser *d, float *out) {
    return returned_row(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

QK_AVX512_WIDE static int32_t returned_row_avx512(const float *q, const float *wr, const float *wi, const float *xr, const float *xi,
                                                  size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                                  const qk_digitiser *d, float *out) {
    return returned_row(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

int32_t qk_returned_row(const float *q, const float *wr, const float *wi, const float *xr, const float *xi,
                        size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                        const qk_digitiser *digitiser, float *out, qk_path path) {
    if (QK_WANT_AVX512(path)) return returned_row_avx512(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out);
    return QK_WANT_AVX2(path) ? returned_row_avx2(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out)
                              : returned_row_portable(q, wr, wi, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out);
}
