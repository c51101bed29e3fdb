#include "CKernels.h"
#include "Dispatch.h"

// The twin's per-slot fields of a burst (BenchSim's ShotFields), in the Float operations and order
// the Swift loops used: bit for bit what they gave.

QK_INLINE void shot_fields(const float *restrict cosI, const float *restrict sinI, const float *restrict cosQ,
                           const float *restrict sinQ, const uint8_t *restrict codes, size_t count,
                           const qk_shot_field_constants *restrict k, float *restrict aRe, float *restrict aIm,
                           float *restrict q, int client, int server) {
    const float cbI = k->cbI, sbI = k->sbI, cbQ = k->cbQ, sbQ = k->sbQ, ct = k->ct, st = k->st, dI = k->dI, dQ = k->dQ;
    const float cRe = k->cRe, cIm = k->cIm, sRe = k->sRe, sIm = k->sIm;
    const float x0 = k->weightRe[0], x1 = k->weightRe[1], x2 = k->weightRe[2];
    const float y0 = k->weightIm[0], y1 = k->weightIm[1], y2 = k->weightIm[2];
    for (size_t j = 0; j < count; j++) {
        // Arm fields t = cos(x + b) + iδ sin(x + b) by angle addition; f = (t_I + e^{iθ} t_Q)/2.
        float cI = cosI[j] * cbI - sinI[j] * sbI, sI = sinI[j] * cbI + cosI[j] * sbI;
        float cQ = cosQ[j] * cbQ - sinQ[j] * sbQ, sQ = sinQ[j] * cbQ + cosQ[j] * sbQ;
        float tQi = dQ * sQ;
        float fr = 0.5f * ((cI + ct * cQ) - st * tQi);
        float fi = 0.5f * ((dI * sI + st * cQ) + ct * tQi);
        if (client) {
            aRe[j] = cRe * fr - cIm * fi;
            aIm[j] = cRe * fi + cIm * fr;
        }
        if (server) {
            uint8_t c = codes[j];
            float wr = c == 0 ? x0 : (c == 1 ? x1 : x2), wi = c == 0 ? y0 : (c == 1 ? y1 : y2);
            float rRe = sRe * fr - sIm * fi, rIm = sRe * fi + sIm * fr;
            q[j] = rRe * wr - rIm * wi;
        }
    }
}

#define SHOT_FIELDS_BUILD(name, attribute)                                                                        \
    attribute static void name(const float *cosI, const float *sinI, const float *cosQ, const float *sinQ,         \
                               const uint8_t *codes, size_t count, const qk_shot_field_constants *k, float *aRe,   \
                               float *aIm, float *q) {                                                             \
        if (aRe && q) shot_fields(cosI, sinI, cosQ, sinQ, codes, count, k, aRe, aIm, q, 1, 1);                    \
        else if (aRe) shot_fields(cosI, sinI, cosQ, sinQ, codes, count, k, aRe, aIm, q, 1, 0);                    \
        else if (q) shot_fields(cosI, sinI, cosQ, sinQ, codes, count, k, aRe, aIm, q, 0, 1);                      \
    }

SHOT_FIELDS_BUILD(shot_fields_avx512, QK_AVX512_WIDE)
SHOT_FIELDS_BUILD(shot_fields_avx2, QK_AVX2)
SHOT_FIELDS_BUILD(shot_fields_portable, )

void qk_shot_fields(const float *cosI, const float *sinI, const float *cosQ, const float *sinQ, const uint8_t *codes,
                    size_t count, const qk_shot_field_constants *constants, float *aRe, float *aIm, float *q, qk_path path) {
    if (QK_WANT_AVX512(path)) shot_fields_avx512(cosI, sinI, cosQ, sinQ, codes, count, constants, aRe, aIm, q);
    else if (QK_WANT_AVX2(path)) shot_fields_avx2(cosI, sinI, cosQ, sinQ, codes, count, constants, aRe, aIm, q);
    else shot_fields_portable(cosI, sinI, cosQ, sinQ, codes, count, constants, aRe, aIm, q);
}
