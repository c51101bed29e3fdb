#ifndef QBENCH_CKERNELS_DISPATCH_H
#define QBENCH_CKERNELS_DISPATCH_H

// Every kernel body is `static inline` and always inlined into two wrappers: one compiled for AVX2,
// one for the baseline. No contraction to FMA anywhere, so both do exactly the same IEEE operations.
#pragma clang fp contract(off)

#define QK_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define QK_AVX2 __attribute__((target("avx2")))
#define QK_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
/// The AVX-512 build of a plain C kernel body: vectorised with 512-bit registers (by default the
/// compiler keeps to 256 bits).
#define QK_AVX512_WIDE __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"), min_vector_width(512)))
#define QK_HAS_AVX2_BUILD 1
#else
#define QK_AVX2
#define QK_AVX512
#define QK_AVX512_WIDE
#define QK_HAS_AVX2_BUILD 0
#endif

/// Whether to run the AVX2 build for `path`.
#define QK_WANT_AVX2(path) (QK_HAS_AVX2_BUILD && ((path) == QK_BEST || (path) == QK_AVX2_ONLY) && qk_uses_avx2())
/// Whether to run the AVX-512 build for `path` (kernels that have one).
#define QK_WANT_AVX512(path) (QK_HAS_AVX2_BUILD && (path) == QK_BEST && qk_uses_avx512())

#endif
