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

QK_INLINE int32_t returned_row(const float *restrict q, const uint8_t *restrict codes, const qk_slot_weights *restrict w,
                               const float *restrict xr, const float *restrict xi, size_t modes, size_t slots,
                               float dr, float di, float sigma, const float *restrict z, const qk_digitiser *restrict d,
                               float *restrict out) {
    const float x0 = w->re[0], x1 = w->re[1], x2 = w->re[2], y0 = w->im[0], y1 = w->im[1], y2 = w->im[2];
    int32_t rails = 0;
    for (size_t j = 0; j < modes; j++) {
        uint8_t c = codes[j];
        float wr = c == 0 ? x0 : (c == 1 ? x1 : x2), wi = c == 0 ? y0 : (c == 1 ? y1 : y2);
        float ar = xr[j] * dr - xi[j] * di, ai = xr[j] * di + xi[j] * dr;
        float v = (((q[j] + ar * wr) - ai * wi) + sigma * z[j]) + d->offset;
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

QK_AVX2 static int32_t returned_row_avx2(const float *q, const uint8_t *codes, const qk_slot_weights *w, const float *xr, const float *xi,
                                         size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                         const qk_digitiser *d, float *out) {
    return returned_row(q, codes, w, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

static int32_t returned_row_portable(const float *q, const uint8_t *codes, const qk_slot_weights *w, const float *xr, const float *xi,
                                     size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                     const qk_digitiser *d, float *out) {
    return returned_row(q, codes, w, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

QK_AVX512_WIDE static int32_t returned_row_avx512(const float *q, const uint8_t *codes, const qk_slot_weights *w, const float *xr, const float *xi,
                                                  size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                                                  const qk_digitiser *d, float *out) {
    return returned_row(q, codes, w, xr, xi, modes, slots, dr, di, sigma, z, d, out);
}

int32_t qk_returned_row(const float *q, const uint8_t *codes, const qk_slot_weights *weights, const float *xr, const float *xi,
                        size_t modes, size_t slots, float dr, float di, float sigma, const float *z,
                        const qk_digitiser *digitiser, float *out, qk_path path) {
    if (QK_WANT_AVX512(path)) return returned_row_avx512(q, codes, weights, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out);
    return QK_WANT_AVX2(path) ? returned_row_avx2(q, codes, weights, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out)
                              : returned_row_portable(q, codes, weights, xr, xi, modes, slots, dr, di, sigma, z, digitiser, out);
}
