#include "CKernels.h"
#include "Dispatch.h"

/// Accumulator lanes: slot k of a run adds to lane k mod LANES; the lanes are summed at the end in
/// a fixed order.
#define LANES 4

QK_INLINE void pattern_sums(const float *restrict re, const float *restrict im, const uint8_t *restrict codes, size_t count,
                            float *restrict e1, float *restrict e2, float *restrict isX, double *restrict sums) {
    // The regressors first: X: (2 Re α, 2 Im α); P: (2 Im α, −2 Re α).
    for (size_t k = 0; k < count; k++) {
        float r = 2 * re[k], i = 2 * im[k];
        float c = codes[k] == 0 ? 1.0f : 0.0f;
        e1[k] = c != 0 ? r : i;
        e2[k] = c != 0 ? i : -r;
        isX[k] = c;
    }
    // Per lane: X then P, each n, Σe1, Σe2, Σe1², Σe2², Σe1·e2.
    double a[12][LANES] = {{0}};
    size_t k = 0;
    for (; k + LANES <= count; k += LANES) {
        for (int l = 0; l < LANES; l++) {
            double dc = isX[k + l], d1 = e1[k + l], d2 = e2[k + l];
            double q1 = d1 * d1, q2 = d2 * d2, q12 = d1 * d2, dp = 1 - dc;
            a[0][l] += dc; a[1][l] += dc * d1; a[2][l] += dc * d2; a[3][l] += dc * q1; a[4][l] += dc * q2; a[5][l] += dc * q12;
            a[6][l] += dp; a[7][l] += dp * d1; a[8][l] += dp * d2; a[9][l] += dp * q1; a[10][l] += dp * q2; a[11][l] += dp * q12;
        }
    }
    for (int l = 0; k < count; k++, l++) {
        double dc = isX[k], d1 = e1[k], d2 = e2[k];
        double q1 = d1 * d1, q2 = d2 * d2, q12 = d1 * d2, dp = 1 - dc;
        a[0][l] += dc; a[1][l] += dc * d1; a[2][l] += dc * d2; a[3][l] += dc * q1; a[4][l] += dc * q2; a[5][l] += dc * q12;
        a[6][l] += dp; a[7][l] += dp * d1; a[8][l] += dp * d2; a[9][l] += dp * q1; a[10][l] += dp * q2; a[11][l] += dp * q12;
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
