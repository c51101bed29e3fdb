#!/usr/bin/env bash
# The paper's accuracy-against-F curve, reproduced with the authors' plain recipe (no normalisation
# during training, noise-free Adam at a constant learning rate 1e-3, batch 64), next to the
# project's normalised recipe and the shipped models (docs/low-leakage.md).
#
#   scripts/paper-curve.sh                    # plain 12 epochs, normalised 20 (the authors used 100)
#   PLAIN_EPOCHS=100 scripts/paper-curve.sh
#
# Writes docs/measurements/paper-curve.csv and .svg; the trained models go to $WORK (default
# .build/paper-curve), not to Models/. Heavy: runs under nice. Every number in the CSV is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAIN_EPOCHS=${PLAIN_EPOCHS:-12}
NORMALISED_EPOCHS=${NORMALISED_EPOCHS:-20}
TRAIN_NORMALISED=${TRAIN_NORMALISED:-1}   # 0: compare the plain recipe with the shipped models only
SEEDS=${SEEDS:-1,2,3}
WORK=${WORK:-.build/paper-curve}
OUT=${OUT:-docs/measurements/paper-curve}
SNRS=${SNRS:-0.01,0.03,0.1,0.2,0.3,0.5,0.75,1,2,3,10,30,100}
mkdir -p "$WORK" "$(dirname "$OUT")"
nice -n 19 swift build --product qbench
BIN="$(swift build --show-bin-path)/qbench"

if [ ! -f "$WORK/plain.qbm" ]; then
  nice -n 19 "$BIN" train --recipe plain --noise-snr 0 --batch-size 64 --final-lr-fraction 1 --epochs "$PLAIN_EPOCHS" \
    --curve-snrs 0.5,0.6,1,2,3,10 --output "$WORK/plain.qbm" \
    --provenance "scripts/paper-curve.sh: the authors plain recipe (PROTOCOL.md §4), $PLAIN_EPOCHS epochs" | tee "$WORK/plain.log"
fi
if [ "$TRAIN_NORMALISED" = 1 ] && [ ! -f "$WORK/normalised.qbm" ]; then
  nice -n 19 "$BIN" train --recipe normalised --noise-snr 0 --epochs "$NORMALISED_EPOCHS" \
    --curve-snrs 0.5,0.6,1,2,3,10 --output "$WORK/normalised.qbm" \
    --provenance "scripts/paper-curve.sh: the project's normalised recipe, noise-free, $NORMALISED_EPOCHS epochs" | tee "$WORK/normalised.log"
fi
MODELS="$WORK/plain.qbm"
[ -f "$WORK/normalised.qbm" ] && MODELS="$MODELS,$WORK/normalised.qbm"
MODELS="$MODELS,Models/mnist-784-784-10.qbm"
[ -f Models/mnist-784-784-10-lowleak.qbm ] && MODELS="$MODELS,Models/mnist-784-784-10-lowleak.qbm"
nice -n 19 "$BIN" curve --models "$MODELS" --snrs "$SNRS" --seeds "$SEEDS" --output "$OUT" | tee "$WORK/curve.log"
