#include "CKernels.h"
#include "Dispatch.h"

/// Accumulator lanes: slot k of a run adds to lane k mod LANES; the lanes are summed at the end in
/// a fixed order.
#define LANES 4

QK_INLINE void signal_sums(const float *restrict y, size_t shots, size_t stride, const float *restrict e1,
                           const float *restrict e2, const float *restrict isX, size_t count, double *restrict sums) {
    double a[8][LANES] = {{0}};
    for (size_t s = 0; s < shots; s++) {
        const float *ys = y + s * stride;
        size_t k = 0;
        for (; k + LANES <= count; k += LANES) {
            for (int l = 0; l < LANES; l++) {
                // vx = y on an X slot and 0 on a P slot, vp the other way round (both exact).
                double v = ys[k + l], u1 = e1[k + l], u2 = e2[k + l];
                double vx = (double)isX[k + l] * v, vp = v - vx;
                a[0][l] += vx; a[1][l] += vx * v; a[2][l] += u1 * vx; a[3][l] += u2 * vx;
                a[4][l] += vp; a[5][l] += vp * v; a[6][l] += u1 * vp; a[7][l] += u2 * vp;
            }
        }
        for (int l = 0; k < count; k++, l++) {
            double v = ys[k], u1 = e1[k], u2 = e2[k];
            double vx = (double)isX[k] * v, vp = v - vx;
            a[0][l] += vx; a[1][l] += vx * v; a[2][l] += u1 * vx; a[3][l] += u2 * vx;
            a[4][l] += vp; a[5][l] += vp * v; a[6][l] += u1 * vp; a[7][l] += u2 * vp;
        }
    }
    for (int q = 0; q < 8; q++) sums[q] += (a[q][0] + a[q][1]) + (a[q][2] + a[q][3]);
}

QK_INLINE void vacuum_sums(const float *restrict y, size_t shots, size_t stride, size_t count, double *restrict sums) {
    double a[2][LANES] = {{0}};
    for (size_t s = 0; s < shots; s++) {
        const float *ys = y + s * stride;
        size_t k = 0;
        for (; k + LANES <= count; k += LANES) {
            for (int l = 0; l < LANES; l++) {
                double v = ys[k + l];
                a[0][l] += v; a[1][l] += v * v;
            }
        }
        for (int l = 0; k < count; k++, l++) {
            double v = ys[k];
            a[0][l] += v; a[1][l] += v * v;
        }
    }
    for (int q = 0; q < 2; q++) sums[q] += (a[q][0] + a[q][1]) + (a[q][2] + a[q][3]);
}

QK_AVX2 static void signal_sums_avx2(const float *y, size_t shots, size_t stride, const float *e1, const float *e2,
                                     const float *isX, size_t count, double *sums) {
    signal_sums(y, shots, stride, e1, e2, isX, count, sums);
}

static void signal_sums_portable(const float *y, size_t shots, size_t stride, const float *e1, const float *e2,
                                 const float *isX, size_t count, double *sums) {
    signal_sums(y, shots, stride, e1, e2, isX, count, sums);
}

QK_AVX2 static void vacuum_sums_avx2(const float *y, size_t shots, size_t stride, size_t count, double *sums) {
    vacuum_sums(y, shots, stride, count, sums);
}

static void vacuum_sums_portable(const float *y, size_t shots, size_t stride, size_t count, double *sums) {
    vacuum_sums(y, shots, stride, count, sums);
}

void qk_signal_sums(const float *y, size_t shots, size_t shotStride, const float *e1, const float *e2,
                    const float *isX, size_t count, double sums[8], qk_path path) {
    if (QK_WANT_AVX2(path)) signal_sums_avx2(y, shots, shotStride, e1, e2, isX, count, sums);
    else signal_sums_portable(y, shots, shotStride, e1, e2, isX, count, sums);
}

void qk_vacuum_sums(const float *y, size_t shots, size_t shotStride, size_t count, double sums[2], qk_path path) {
    if (QK_WANT_AVX2(path)) vacuum_sums_avx2(y, shots, shotStride, count, sums);
    else vacuum_sums_portable(y, shots, shotStride, count, sums);
}
