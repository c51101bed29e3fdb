#include "CKernels.h"
#include "Dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/// AVX2 in the CPU (CPUID leaf 7) and YMM state enabled by the OS (OSXSAVE, XCR0 bits 1 and 2).
static int detect_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX2) != 0;
}

/// AVX-512 F, DQ, BW and VL in the CPU (CPUID leaf 7, EBX bits 16, 17, 30, 31) and the opmask and
/// ZMM state enabled by the OS (XCR0 bits 5, 6, 7 besides SSE and AVX's 1 and 2).
static int detect_avx512(void) {
    if (!detect_avx2()) return 0;
    unsigned a, b, c, d;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    return (b & need) == need;
}
#else
static int detect_avx2(void) { return 0; }
static int detect_avx512(void) { return 0; }
#endif

int qk_uses_avx2(void) {
    // 0: not yet known; 1: no; 2: yes. Every thread computes the same answer, so a race is harmless.
    static int known = 0;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k == 0) {
        k = detect_avx2() ? 2 : 1;
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k == 2;
}

int qk_uses_avx512(void) {
    static int known = 0;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k == 0) {
        k = detect_avx512() ? 2 : 1;
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k == 2;
}
