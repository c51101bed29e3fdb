#include "CKernels.h"
#include "Dispatch.h"

/// Accumulator lanes: slot k of a run adds to lane k mod LANES; the lanes are summed at the end in
/// a fixed order.
#define LANES 4

QK_INLINE void pattern_sums(const float *restrict re, const float *restrict im, const uint8_t *restrict codes, size_t count,
                            float *restrict e1, float *restrict e2, float *restrict isX, double *restrict sums) {
    // Per lane: X then P, each n, Σe1, Σe2, Σe1², Σe2², Σe1·e2.
    double a[12][LANES] = {{0}};
    for (size_t k0 = 0; k0 < count; k0 += LANES) {
        for (int l = 0; l < LANES && k0 + (size_t)l < count; l++) {
            size_t k = k0 + (size_t)l;
            // X: (2 Re α, 2 Im α); P: (2 Im α, −2 Re α).
            float r = 2 * re[k], i = 2 * im[k];
            float c = codes[k] == 0 ? 1.0f : 0.0f;
            float u1 = c != 0 ? r : i, u2 = c != 0 ? i : -r;
            e1[k] = u1; e2[k] = u2; isX[k] = c;
            double dc = (double)c, d1 = (double)u1, d2 = (double)u2;
            double q1 = d1 * d1, q2 = d2 * d2, q12 = d1 * d2;
            a[0][l] += dc; a[1][l] += dc * d1; a[2][l] += dc * d2; a[3][l] += dc * q1; a[4][l] += dc * q2; a[5][l] += dc * q12;
            double dp = 1 - dc;
            a[6][l] += dp; a[7][l] += dp * d1; a[8][l] += dp * d2; a[9][l] += dp * q1; a[10][l] += dp * q2; a[11][l] += dp * q12;
        }
    }
    for (int q = 0; q < 12; q++) sums[q] += (a[q][0] + a[q][1]) + (a[q][2] + a[q][3]);
}

QK_AVX2 static void pattern_sums_avx2(const float *re, const float *im, const uint8_t *codes, size_t count,
                                      float *e1, float *e2, float *isX, double *sums) {
    pattern_sums(re, im, codes, count, e1, e2, isX, sums);
}

static void pattern_sums_portable(const float *re, const float *im, const uint8_t *codes, size_t count,
                                  float *e1, float *e2, float *isX, double *sums) {
    pattern_sums(re, im, codes, count, e1, e2, isX, sums);
}

void qk_pattern_sums(const float *re, const float *im, const uint8_t *codes, size_t count,
                     float *e1, float *e2, float *isX, double sums[12], qk_path path) {
    if (QK_WANT_AVX2(path)) pattern_sums_avx2(re, im, codes, count, e1, e2, isX, sums);
    else pattern_sums_portable(re, im, codes, count, e1, e2, isX, sums);
}
