#include "CKernels.h"
#include "Dispatch.h"

/// Accumulator lanes of the combination: slot k of a chunk adds to lane k mod LANES; the lanes are
/// summed at the end in a fixed order.
#define LANES 4
/// Slots per chunk: the per-slot sums over the shots (two doubles a slot) stay in the L1 cache.
#define CHUNK 512
/// Slots whose sums over the shots stay in registers (a 64-byte line of samples).
#define GROUP 16
/// How many groups ahead each shot's line is prefetched.
#define AHEAD 4

QK_INLINE void burst_sums(const float *restrict y, size_t shots, size_t stride, const float *restrict e1,
                          const float *restrict e2, const uint8_t *restrict codes, size_t count, double *restrict sums) {
    double t1[CHUNK], t2[CHUNK];
    double a[10][LANES] = {{0}};
    for (size_t c = 0; c < count; c += CHUNK) {
        size_t m = count - c < CHUNK ? count - c : CHUNK;
        // Per slot, over the shots in order: Σ_s y and Σ_s y², GROUP slots at a time with their
        // sums held in registers while the shots stream past (no store between shots).
        size_t k = 0;
        for (; k + GROUP <= m; k += GROUP) {
            const float *ys = y + c + k;
            double s1[GROUP], s2[GROUP];
            for (size_t g = 0; g < GROUP; g++) { double v = ys[g]; s1[g] = v; s2[g] = v * v; }
            for (size_t s = 1; s < shots; s++) {
                ys += stride;
                // The shots' lines are a stride apart, where the hardware's prefetcher does not
                // follow: ask for this shot's line AHEAD groups on.
                __builtin_prefetch(ys + AHEAD * GROUP);
                for (size_t g = 0; g < GROUP; g++) { double v = ys[g]; s1[g] += v; s2[g] += v * v; }
            }
            for (size_t g = 0; g < GROUP; g++) { t1[k + g] = s1[g]; t2[k + g] = s2[g]; }
        }
        for (; k < m; k++) {
            double v = y[c + k], s1 = v, s2 = v * v;
            for (size_t s = 1; s < shots; s++) { v = y[s * stride + c + k]; s1 += v; s2 += v * v; }
            t1[k] = s1; t2[k] = s2;
        }
        // Each slot's sums to its kind: X and P with the slot's regressors, vacuum alone.
        for (size_t k = 0; k < m; k++) {
            size_t l = k % LANES;
            uint8_t code = codes[c + k];
            double u1 = e1[c + k], u2 = e2[c + k];
            double x1 = code == 0 ? t1[k] : 0, x2 = code == 0 ? t2[k] : 0;
            double p1 = code == 1 ? t1[k] : 0, p2 = code == 1 ? t2[k] : 0;
            double v1 = code > 1 ? t1[k] : 0, v2 = code > 1 ? t2[k] : 0;
            a[0][l] += x1; a[1][l] += x2; a[2][l] += u1 * x1; a[3][l] += u2 * x1;
            a[4][l] += p1; a[5][l] += p2; a[6][l] += u1 * p1; a[7][l] += u2 * p1;
            a[8][l] += v1; a[9][l] += v2;
        }
    }
    for (int q = 0; q < 10; q++) sums[q] += (a[q][0] + a[q][1]) + (a[q][2] + a[q][3]);
}

QK_AVX2 static void burst_sums_avx2(const float *y, size_t shots, size_t stride, const float *e1, const float *e2,
                                    const uint8_t *codes, size_t count, double *sums) {
    burst_sums(y, shots, stride, e1, e2, codes, count, sums);
}

static void burst_sums_portable(const float *y, size_t shots, size_t stride, const float *e1, const float *e2,
                                const uint8_t *codes, size_t count, double *sums) {
    burst_sums(y, shots, stride, e1, e2, codes, count, sums);
}

QK_AVX512_WIDE static void burst_sums_avx512(const float *y, size_t shots, size_t stride, const float *e1, const float *e2,
                                             const uint8_t *codes, size_t count, double *sums) {
    burst_sums(y, shots, stride, e1, e2, codes, count, sums);
}

void qk_burst_sums(const float *y, size_t shots, size_t shotStride, const float *e1, const float *e2,
                   const uint8_t *codes, size_t count, double sums[10], qk_path path) {
    if (QK_WANT_AVX512(path)) burst_sums_avx512(y, shots, shotStride, e1, e2, codes, count, sums);
    else if (QK_WANT_AVX2(path)) burst_sums_avx2(y, shots, shotStride, e1, e2, codes, count, sums);
    else burst_sums_portable(y, shots, shotStride, e1, e2, codes, count, sums);
}
