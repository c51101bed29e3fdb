#include "CKernels.h"
#include "Dispatch.h"

/// Lanes of the scan: sample k goes to lane k mod SPAN_LANES; minimum and maximum are exact, so the
/// result does not depend on the lanes (only the sign of a zero extreme may).
#define SPAN_LANES 16

QK_INLINE size_t span(const float *restrict v, size_t count, float *restrict lowest, float *restrict highest) {
    float lo[SPAN_LANES], hi[SPAN_LANES];
    uint32_t nan[SPAN_LANES];
    for (int l = 0; l < SPAN_LANES; l++) { lo[l] = __builtin_inff(); hi[l] = -__builtin_inff(); nan[l] = 0; }
    size_t k = 0;
    for (; k + SPAN_LANES <= count; k += SPAN_LANES) {
        for (int l = 0; l < SPAN_LANES; l++) {
            float x = v[k + l];
            // A NaN compares false: it never becomes an extreme, and is counted.
            lo[l] = x < lo[l] ? x : lo[l];
            hi[l] = x > hi[l] ? x : hi[l];
            nan[l] += x != x;
        }
    }
    for (int l = 0; k < count; k++, l++) {
        float x = v[k];
        lo[l] = x < lo[l] ? x : lo[l];
        hi[l] = x > hi[l] ? x : hi[l];
        nan[l] += x != x;
    }
    size_t nans = 0;
    float a = lo[0], b = hi[0];
    for (int l = 0; l < SPAN_LANES; l++) {
        a = lo[l] < a ? lo[l] : a;
        b = hi[l] > b ? hi[l] : b;
        nans += nan[l];
    }
    *lowest = a; *highest = b;
    return nans;
}

QK_AVX2 static size_t span_avx2(const float *v, size_t count, float *lowest, float *highest) { return span(v, count, lowest, highest); }
static size_t span_portable(const float *v, size_t count, float *lowest, float *highest) { return span(v, count, lowest, highest); }

size_t qk_span(const float *values, size_t count, float *lowest, float *highest, qk_path path) {
    return QK_WANT_AVX2(path) ? span_avx2(values, count, lowest, highest) : span_portable(values, count, lowest, highest);
}
