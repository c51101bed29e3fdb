#!/usr/bin/env bash
# Kills `qbench run` with SIGKILL at random moments, resumes each run, and checks that what the
# client computed (images, accuracy, blocks, modes) equals an uninterrupted run's, and that the
# journal shows the safe state. Each session draws its own secret X/P basis, so the server's T̂ and
# ε̂ differ between sessions within their errors (printed beside); that a resumed session measures
# exactly the basis and statistics it would have uninterrupted is tested in process
# (ProtocolRunTests, with an injected deterministic basis).
# Usage: scripts/kill-resume.sh [runs=5] [images=1000] [block-images=100]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; images=${2:-1000}; block=${3:-100}
swift build --product qbench >/dev/null
qbench=.build/debug/qbench
export QBENCH_HOME=$(mktemp -d)
fields='["images","accuracy","aborted","blocks","modes"]'
pick() { python3 -c "import json,sys; d=json.load(open('$1')); print(json.dumps({k: d[k] for k in $fields}, sort_keys=True))"; }
server() { python3 -c "import json,sys; d=json.load(open('$1')); print('T̂ %.6f ε̂ %.4e I_w ≤ %.4f' % (d['transmittanceEstimate'], d['excessNoiseEstimate'], d['weightLeakageUpperBoundBitsPerMode']))"; }

start=$(date +%s.%N)
$qbench run --images "$images" --block-images "$block" --json > "$QBENCH_HOME/reference.json"
full=$(python3 -c "print($(date +%s.%N) - $start)")
reference=$(pick "$QBENCH_HOME/reference.json")
echo "uninterrupted: $reference; $(server "$QBENCH_HOME/reference.json") ($full s)"
failures=0
for k in $(seq 1 "$runs"); do
  delay=$(python3 -c "import random; print(round(random.uniform(0.3, $full * 0.9), 2))")
  $qbench run --images "$images" --block-images "$block" --json > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  id=$($qbench runs --json | python3 -c "import json,sys; print(json.load(sys.stdin)['runs'][0]['id'])")
  status=$($qbench runs --json | python3 -c "import json,sys; print(json.load(sys.stdin)['runs'][0]['status'])")
  if [ "$status" = "completed" ]; then echo "run $k: finished before the kill at ${delay} s"; continue; fi
  done_blocks=$($qbench journal "$id" --json | python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['step'].startswith('block ') and '(' in e['step']))")
  $qbench run --resume "$id" --json > "$QBENCH_HOME/resumed-$k.json"
  resumed=$(pick "$QBENCH_HOME/resumed-$k.json")
  safe=$($qbench journal "$id" --json | python3 -c "
import json,sys
e=json.load(sys.stdin)['entries']
r=[i for i,x in enumerate(e) if x['step']=='resume'][0]
before=[x['step'] for x in e[r:] if x['kind']=='safe-state'][:1]
last=[x for x in e if x['kind']=='safe-state'][-1]
print('safe state at resume: %s; last: %s (%s)' % (before[0] if before else 'none', last['step'], last['detail']))")
  if [ "$resumed" = "$reference" ]; then verdict=identical; else verdict=DIFFERENT; failures=$((failures + 1)); fi
  echo "run $k: SIGKILL at ${delay} s after $done_blocks journaled blocks, resumed $id: $verdict; $(server "$QBENCH_HOME/resumed-$k.json"); $safe"
done
echo "$failures of $runs resumed runs differ from the uninterrupted run"
[ "$failures" -eq 0 ]
