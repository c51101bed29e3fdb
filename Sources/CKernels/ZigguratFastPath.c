#include "CKernels.h"
#include "Dispatch.h"

/// Words drawn per block: the lanes fill `w`, then the layer test runs over the block.
#define BLOCK 1024
#define LANES QK_ZIGGURAT_LANES

QK_INLINE size_t fast_path(float *restrict out, size_t n, uint64_t *restrict state, const int32_t *restrict bound,
                           const float *restrict scale, uint32_t *restrict index, uint32_t *restrict word) {
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
                index[count] = (uint32_t)(c + k);
                word[count] = w[k];
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

#if QK_HAS_AVX2_BUILD
#include <immintrin.h>

/// One xoshiro256** step on four lanes (s0…s3 hold lane l's words in 64-bit element l): the
/// products by 5 and 9 as shifts and adds, which AVX2 has for 64-bit elements.
#define XOSHIRO_STEP(s0, s1, s2, s3, r) do { \
        __m256i x_ = _mm256_add_epi64(s1, _mm256_slli_epi64(s1, 2)); \
        __m256i o_ = _mm256_or_si256(_mm256_slli_epi64(x_, 7), _mm256_srli_epi64(x_, 57)); \
        r = _mm256_add_epi64(o_, _mm256_slli_epi64(o_, 3)); \
        __m256i t_ = _mm256_slli_epi64(s1, 17); \
        s2 = _mm256_xor_si256(s2, s0); s3 = _mm256_xor_si256(s3, s1); \
        s1 = _mm256_xor_si256(s1, s2); s0 = _mm256_xor_si256(s0, s3); \
        s2 = _mm256_xor_si256(s2, t_); \
        s3 = _mm256_or_si256(_mm256_slli_epi64(s3, 45), _mm256_srli_epi64(s3, 19)); \
    } while (0)

/// `fast_path` written for AVX2: the same words in the same order (the low halves of the eight
/// lanes' outputs, then the high halves), the same float operations, the same rejected list. The
/// rejections are found from a compare mask; the compiler's own version of the loop above kept a
/// byte flag per word and scanned them, about 1.8 times slower (docs/performance.md).
QK_AVX2 static size_t fast_path_avx2(float *restrict out, size_t n, uint64_t *restrict state, const int32_t *restrict bound,
                                     const float *restrict scale, uint32_t *restrict index, uint32_t *restrict word) {
    _Static_assert(LANES == 8, "two four-lane registers per state word");
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(state + 0)), b0 = _mm256_loadu_si256((const __m256i *)(state + 4));
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(state + 8)), b1 = _mm256_loadu_si256((const __m256i *)(state + 12));
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(state + 16)), b2 = _mm256_loadu_si256((const __m256i *)(state + 20));
    __m256i a3 = _mm256_loadu_si256((const __m256i *)(state + 24)), b3 = _mm256_loadu_si256((const __m256i *)(state + 28));
    uint32_t w[BLOCK] __attribute__((aligned(32)));
    const __m256 half = _mm256_set1_ps(0.5f);
    size_t count = 0;
    for (size_t c = 0; c < n; c += BLOCK) {
        size_t m = n - c < BLOCK ? n - c : BLOCK;
        size_t steps = (m + 2 * LANES - 1) / (2 * LANES);
        for (size_t i = 0; i < steps; i++) {
            __m256i ra, rb;
            XOSHIRO_STEP(a0, a1, a2, a3, ra);
            XOSHIRO_STEP(b0, b1, b2, b3, rb);
            // 32-bit elements of ra, rb: lo0 hi0 lo1 hi1 … → lo0…lo7 and hi0…hi7.
            __m256 lo = _mm256_shuffle_ps(_mm256_castsi256_ps(ra), _mm256_castsi256_ps(rb), 0x88);
            __m256 hi = _mm256_shuffle_ps(_mm256_castsi256_ps(ra), _mm256_castsi256_ps(rb), 0xDD);
            _mm256_store_si256((__m256i *)(w + 2 * LANES * i), _mm256_permute4x64_epi64(_mm256_castps_si256(lo), 0xD8));
            _mm256_store_si256((__m256i *)(w + 2 * LANES * i + LANES), _mm256_permute4x64_epi64(_mm256_castps_si256(hi), 0xD8));
        }
        float *o = out + c;
        size_t j = 0;
        for (; j + 8 <= m; j += 8) {
            __m256i words = _mm256_load_si256((const __m256i *)(w + j));
            __m256i h = _mm256_srai_epi32(words, 8);
            __m256i magnitude = _mm256_xor_si256(h, _mm256_srai_epi32(h, 31));
            // The tables by scalar loads: AVX2's gathers were slower here than the loads they replace.
            const uint32_t *v = w + j;
            __m256i b = _mm256_setr_epi32(bound[v[0] & 255], bound[v[1] & 255], bound[v[2] & 255], bound[v[3] & 255],
                                          bound[v[4] & 255], bound[v[5] & 255], bound[v[6] & 255], bound[v[7] & 255]);
            __m256 s = _mm256_setr_ps(scale[v[0] & 255], scale[v[1] & 255], scale[v[2] & 255], scale[v[3] & 255],
                                      scale[v[4] & 255], scale[v[5] & 255], scale[v[6] & 255], scale[v[7] & 255]);
            _mm256_storeu_ps(o + j, _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(h), half), s));
            unsigned bad = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(b, magnitude))) ^ 0xFFu;
            while (bad) {
                size_t k = j + (size_t)__builtin_ctz(bad);
                index[count] = (uint32_t)(c + k);
                word[count] = w[k];
                count++;
                bad &= bad - 1;
            }
        }
        for (; j < m; j++) {
            int32_t h = (int32_t)w[j] >> 8;
            uint32_t layer = w[j] & 255;
            o[j] = ((float)h + 0.5f) * scale[layer];
            if ((h ^ (h >> 31)) >= bound[layer]) {
                index[count] = (uint32_t)(c + j);
                word[count] = w[j];
                count++;
            }
        }
    }
    _mm256_storeu_si256((__m256i *)(state + 0), a0); _mm256_storeu_si256((__m256i *)(state + 4), b0);
    _mm256_storeu_si256((__m256i *)(state + 8), a1); _mm256_storeu_si256((__m256i *)(state + 12), b1);
    _mm256_storeu_si256((__m256i *)(state + 16), a2); _mm256_storeu_si256((__m256i *)(state + 20), b2);
    _mm256_storeu_si256((__m256i *)(state + 24), a3); _mm256_storeu_si256((__m256i *)(state + 28), b3);
    return count;
}

/// One xoshiro256** step on eight lanes (s0…s3 hold lane l's words in 64-bit element l).
#define XOSHIRO_STEP512(s0, s1, s2, s3, r) do { \
        __m512i x_ = _mm512_add_epi64(s1, _mm512_slli_epi64(s1, 2)); \
        __m512i o_ = _mm512_rol_epi64(x_, 7); \
        r = _mm512_add_epi64(o_, _mm512_slli_epi64(o_, 3)); \
        __m512i t_ = _mm512_slli_epi64(s1, 17); \
        s2 = _mm512_xor_si512(s2, s0); s3 = _mm512_xor_si512(s3, s1); \
        s1 = _mm512_xor_si512(s1, s2); s0 = _mm512_xor_si512(s0, s3); \
        s2 = _mm512_xor_si512(s2, t_); \
        s3 = _mm512_rol_epi64(s3, 45); \
    } while (0)

/// `fast_path` written for AVX-512: the same words in the same order (one step of the eight lanes
/// is one register of sixteen words: the low halves, then the high halves), the same float
/// operations, the same rejected lists. Each step's sixteen words are tested as soon as they are
/// drawn: the tables are read by two gathers, and the rejected indices and words are appended by
/// compressing the step's registers under the rejection mask, without a branch. Measured in C at
/// -O2 on this project's 2-core machine (whose CPU is not affected by the gather data sampling
/// erratum, so its gathers run at full speed): 0.53 ns per sample, against 0.87 for the former
/// build that looked the tables up by permutes of registers holding them whole and appended the
/// rejections in a loop over the mask's bits (docs/performance.md, sixth round).
QK_AVX512 static size_t fast_path_avx512(float *restrict out, size_t n, uint64_t *restrict state, const int32_t *restrict bound,
                                         const float *restrict scale, uint32_t *restrict index, uint32_t *restrict word) {
    _Static_assert(LANES == 8, "one eight-lane register per state word");
    __m512i s0 = _mm512_loadu_si512(state + 0), s1 = _mm512_loadu_si512(state + 8);
    __m512i s2 = _mm512_loadu_si512(state + 16), s3 = _mm512_loadu_si512(state + 24);
    // 32-bit elements of a step's output: lo0 hi0 lo1 hi1 … → lo0…lo7 hi0…hi7.
    const __m512i order = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i layerBits = _mm512_set1_epi32(255);
    const __m512 half = _mm512_set1_ps(0.5f);
    uint32_t w[BLOCK] __attribute__((aligned(64)));
    size_t count = 0;
    for (size_t c = 0; c < n; c += BLOCK) {
        size_t m = n - c < BLOCK ? n - c : BLOCK;
        size_t steps = (m + 2 * LANES - 1) / (2 * LANES);
        float *o = out + c;
        for (size_t i = 0; i < steps; i++) {
            __m512i r;
            XOSHIRO_STEP512(s0, s1, s2, s3, r);
            __m512i words = _mm512_permutexvar_epi32(order, r);
            _mm512_store_si512(w + 2 * LANES * i, words);
            size_t j = 2 * LANES * i;
            if (j + 2 * LANES > m) continue;   // a partial last step: its words go to the tail below
            __m512i h = _mm512_srai_epi32(words, 8);
            __m512i magnitude = _mm512_xor_si512(h, _mm512_srai_epi32(h, 31));
            __m512i layer = _mm512_and_si512(words, layerBits);
            __m512i b = _mm512_i32gather_epi32(layer, bound, 4);
            __m512 sc = _mm512_i32gather_ps(layer, scale, 4);
            _mm512_storeu_ps(o + j, _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(h), half), sc));
            __mmask16 bad = _mm512_cmpge_epi32_mask(magnitude, b);
            // Sixteen elements stored at the end of each list (the caller's slack), `count` advanced
            // by the rejected ones: later steps overwrite the rest.
            _mm512_storeu_si512(index + count, _mm512_maskz_compress_epi32(bad, _mm512_add_epi32(_mm512_set1_epi32((int)(c + j)), iota)));
            _mm512_storeu_si512(word + count, _mm512_maskz_compress_epi32(bad, words));
            count += (size_t)__builtin_popcount((unsigned)bad);
        }
        for (size_t j = m & ~(size_t)(2 * LANES - 1); j < m; j++) {
            int32_t h = (int32_t)w[j] >> 8;
            uint32_t layer = w[j] & 255;
            o[j] = ((float)h + 0.5f) * scale[layer];
            if ((h ^ (h >> 31)) >= bound[layer]) {
                index[count] = (uint32_t)(c + j);
                word[count] = w[j];
                count++;
            }
        }
    }
    _mm512_storeu_si512(state + 0, s0); _mm512_storeu_si512(state + 8, s1);
    _mm512_storeu_si512(state + 16, s2); _mm512_storeu_si512(state + 24, s3);
    return count;
}
#else
static size_t fast_path_avx2(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale, uint32_t *index, uint32_t *word) {
    return fast_path(out, n, state, bound, scale, index, word);
}
static size_t fast_path_avx512(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale, uint32_t *index, uint32_t *word) {
    return fast_path(out, n, state, bound, scale, index, word);
}
#endif

static size_t fast_path_portable(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale, uint32_t *index, uint32_t *word) {
    return fast_path(out, n, state, bound, scale, index, word);
}

size_t qk_ziggurat_fast(float *out, size_t n, uint64_t *state, const int32_t *bound, const float *scale,
                        uint32_t *index, uint32_t *word, qk_path path) {
    if (QK_WANT_AVX512(path)) return fast_path_avx512(out, n, state, bound, scale, index, word);
    return QK_WANT_AVX2(path) ? fast_path_avx2(out, n, state, bound, scale, index, word)
                              : fast_path_portable(out, n, state, bound, scale, index, word);
}
