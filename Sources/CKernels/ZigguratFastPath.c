#include "CKernels.h"
#include "Dispatch.h"

/// Words drawn per block: the lanes fill `w`, then the layer test runs over the block.
#define BLOCK 1024
#define LANES QK_ZIGGURAT_LANES

QK_INLINE size_t fast_path(float *restrict out, size_t n, uint64_t *restrict state, const int32_t *restrict bound,
                           const float *restrict scale, uint32_t *restrict rejected) {
    uint64_t s0[LANES], s1[LANES], s2[LANES], s3[LANES];
    for (int l = 0; l < LANES; l++) {
        s0[l] = state[l]; s1[l] = state[LANES + l]; s2[l] = state[2 * LANES + l]; s3[l] = state[3 * LANES + l];
    }
    uint32_t w[BLOCK];
    uint8_t bad[BLOCK];
    size_t count = 0;
    for (size_t c = 0; c < n; c += BLOCK) {
        size_t m = n - c < BLOCK ? n - c : BLOCK;
        size_t steps = (m + 2 * LANES - 1) / (2 * LANES);
        for (size_t i = 0; i < steps; i++) {
            for (int l = 0; l < LANES; l++) {
                // xoshiro256** (Blackman and Vigna), one step per lane.
                uint64_t x = s1[l] * 5;
                uint64_t r = ((x << 7) | (x >> 57)) * 9;
                uint64_t t = s1[l] << 17;
                s2[l] ^= s0[l]; s3[l] ^= s1[l]; s1[l] ^= s2[l]; s0[l] ^= s3[l];
                s2[l] ^= t;
                s3[l] = (s3[l] << 45) | (s3[l] >> 19);
                w[i * 2 * LANES + l] = (uint32_t)r;
                w[i * 2 * LANES + LANES + l] = (uint32_t)(r >> 32);
            }
        }
        float *o = out + c;
        for (size_t j = 0; j < m; j++) {
            int32_t h = (int32_t)w[j] >> 8;
            uint32_t layer = w[j] & 255;
            bad[j] = (uint8_t)((h ^ (h >> 31)) >= bound[layer]);
            o[j] = ((float)h + 0.5f) * scale[layer];
        }
        // The rare rejections, found eight flags at a time.
        size_t padded = (m + 7) & ~(size_t)7;
        for (size_t j = m; j < padded; j++) bad[j] = 0;
        for (size_t j = 0; j < padded; j += 8) {
            uint64_t b;
            __builtin_memcpy(&b, bad + j, 8);
            while (b) {
                size_t k = j + (size_t)(__builtin_ctzll(b) >> 3);
                rejected[2 * count] = (uint32_t)(c + k);
                rejected[2 * count + 1] = w[k];
                count++;
                b &= b - 1;
            }
        }
    }
    for (int l = 0; l < LANES; l++) {
        state[l] = s0[l]; state[LANES + l] = s1[l]; state[2 * LANES + l] = s2[l]; state[3 * LANES + l] = s3[l];
    }
    return count;
}

QK_AVX2 static size_t fast_path_avx2(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale, uint32_t *rejected) {
    return fast_path(out, n, state, bound, scale, rejected);
}

static size_t fast_path_portable(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale, uint32_t *rejected) {
    return fast_path(out, n, state, bound, scale, rejected);
}

size_t qk_ziggurat_fast(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale,
                        uint32_t *rejected, qk_path path) {
    return QK_WANT_AVX2(path) ? fast_path_avx2(out, n, state, bound, scale, rejected)
                              : fast_path_portable(out, n, state, bound, scale, rejected);
}
