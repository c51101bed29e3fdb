#!/usr/bin/env bash
# Re-runs the hostile inputs and faults of issue #11 against a built qbench and prints one line per
# case:
#
#   case-id | exit status (or signal) | seconds | first line of the message
#
# Lines starting with '#' are notes (the binary measured, setup steps, what a case checked). The
# table in docs/robustness.md is this script's output.
#
# Usage: scripts/hostile-cases.sh            (QBENCH=path/to/qbench to measure another binary)
#        KEEP_WORK=1 scripts/hostile-cases.sh  (keep the temporary directory for inspection)
#
# Every qbench call runs under `nice -n 5` with QBENCH_HOME set to a directory of its own under a
# fresh temporary directory (never the default home), on small runs (20-200 images, blocks of 10).
# The binary is copied first: a build that relinks it meanwhile cannot change the measurement.
# The full-disk and read-only cases mount small tmpfs file systems and run only as root.
#
# Exit status: 0 when every case passed; 1 when any case ended by a signal (status >= 128) or a
# timeout, a case that must be refused was accepted, or a case failed its own check (a run lost
# its status or safe-state entries, a resume that must work was refused, a message is still the
# one the issue complained of). The failures are listed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SRC=${QBENCH:-.build/debug/qbench}
[ -x "$SRC" ] || { echo "no qbench binary at $SRC (set QBENCH)" >&2; exit 2; }
W=$(mktemp -d -t qbench-hostile.XXXXXX)
MOUNTS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "# kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
cp "$SRC" "$W/qbench"
Q=$W/qbench
export QBENCH_ROOT=$REPO       # the copy finds Devices/, Models/ and Data/ of this repository
unset QBENCH_HOME
LIMIT=${CASE_TIMEOUT:-120}     # seconds before a case is stopped (SIGINT, then SIGKILL 15 s later)
FAILURES=()
T0=$(date +%s.%N)

echo "# binary $SRC: sha256 $(sha256sum "$SRC" | cut -c1-16)…, built $(date -u -r "$SRC" '+%Y-%m-%d %H:%M UTC'); work dir \$W (a temporary folder)"
echo "# case-id | exit status (or signal) | seconds | first line of the message"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Paths in messages are shown as $W/… (this run's temporary folder) and relative to the repository,
# so the output reads the same on any machine.
paths() { sed -e "s|$W|\$W|g" -e "s|$REPO/||g"; }
firstline() { tr '\r' '\n' < "$1" | sed -e 's/[[:space:]]*$//' | grep -v '^$' | head -n 1 | paths | cut -c1-300; }
status_text() {
  local s=$1
  if [ "$s" -eq 124 ]; then echo "timeout (${LIMIT} s)"
  elif [ "$s" -ge 128 ]; then echo "signal $((s - 128)) ($(kill -l $((s - 128)) 2>/dev/null || echo '?'), status $s)"
  else echo "$s"; fi
}
fail() { FAILURES+=("$1: $2"); }
line() { echo "$1 | $2 | $3 | $4" | paths; }

# qbench under nice and a time limit, with its own home: status in $RC, seconds in $SECS, output
# in $OUT and $ERR, the first line of its message in $MSG.
N=0
qrun() {
  local home=$1; shift
  N=$((N + 1)); OUT=$W/out.$N; ERR=$W/err.$N
  local t=$(now)
  QBENCH_HOME=$home timeout -s INT -k 15 "$LIMIT" nice -n 5 "$Q" "$@" > "$OUT" 2> "$ERR" < /dev/null
  RC=$?
  SECS=$(elapsed "$t" "$(now)")
  if [ "$RC" -eq 0 ]; then MSG=$(firstline "$OUT"); [ -n "$MSG" ] || MSG=$(firstline "$ERR")
  else MSG=$(tr '\r' '\n' < "$ERR" | grep -m1 '^Error' | paths | cut -c1-300)   # the error, not the progress lines
       [ -n "$MSG" ] || MSG=$(firstline "$ERR"); [ -n "$MSG" ] || MSG=$(firstline "$OUT"); fi
}

# case ID EXPECT HOME [-w REGEX] [-x REGEX] [-e] -- ARGS…
#   EXPECT refuse: must end with a status in 1…127; accept: must end with 0.
#   -w: the output must match REGEX (grep -E); -x: it must not; -e: take the message from stderr
#   even when the status is 0 (a listing that reports a damaged row there).
case_() {
  local id=$1 expect=$2 home=$3; shift 3
  local want='' avoid='' errfirst=0
  while [ "$1" != "--" ]; do
    case $1 in -w) want=$2; shift 2 ;; -x) avoid=$2; shift 2 ;; -e) errfirst=1; shift ;; esac
  done
  shift
  qrun "$home" "$@"
  [ "$errfirst" = 1 ] && [ -s "$ERR" ] && MSG=$(firstline "$ERR")
  judge "$id" "$expect" "$want" "$avoid"
  line "$id" "$(status_text "$RC")" "$SECS" "$MSG"
}

judge() {
  local id=$1 expect=$2 want=$3 avoid=$4
  if [ "$RC" -eq 124 ]; then fail "$id" "TIMEOUT after $LIMIT s"
  elif [ "$RC" -ge 128 ]; then fail "$id" "SIGNAL: $(status_text "$RC")"
  elif [ "$expect" = refuse ] && [ "$RC" -eq 0 ]; then fail "$id" "ACCEPTED but must be refused"
  elif [ "$expect" = accept ] && [ "$RC" -ne 0 ]; then fail "$id" "REFUSED but must work"
  fi
  if grep -qE 'Fatal error|Program crashed|Swift runtime failure|Illegal instruction' "$ERR" 2>/dev/null; then
    fail "$id" "TRAP text on stderr"
  fi
  if [ -n "$want" ] && ! cat "$OUT" "$ERR" | grep -qE -- "$want"; then fail "$id" "MESSAGE does not match /$want/"; fi
  if [ -n "$avoid" ] && cat "$OUT" "$ERR" | grep -qE -- "$avoid"; then fail "$id" "MESSAGE matches /$avoid/ (the old answer)"; fi
}

note() { echo "# $*"; }
home_from() { rm -rf "$2"; cp -a "$1" "$2"; echo "$2"; }   # a fresh copy of a home

# Run table queries (sqlite3 when installed, else python3's sqlite3 module).
sql() {
  if command -v sqlite3 > /dev/null; then sqlite3 "$1" "$2"
  else python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print("\n".join("|".join(map(str,x)) for x in r))' "$1" "$2"; fi
}
# Flips bit 0x04 of one byte of a blob: flip DB TABLE COLUMN WHERE POSITION(-1 = middle).
flip() {
  python3 - "$@" <<'EOF'
import sqlite3, sys
db, table, column, where, pos = sys.argv[1:6]
c = sqlite3.connect(db)
rowid, blob = c.execute(f"SELECT rowid, {column} FROM {table} WHERE {where} ORDER BY rowid DESC LIMIT 1").fetchone()
b = bytearray(blob); i = len(b) // 2 if int(pos) < 0 else int(pos)
b[i] ^= 0x04
c.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (bytes(b), rowid)); c.commit()
EOF
}
# Waits until the newest running run has journaled N blocks; prints its id.
wait_blocks() {
  python3 - "$1" "$2" "$3" <<'EOF'
import sqlite3, sys, time
db, need, deadline = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        r = c.execute("SELECT id FROM run WHERE status = 'running' ORDER BY createdAt DESC LIMIT 1").fetchone()
        if r and c.execute("SELECT count(*) FROM journal WHERE runId = ? AND step LIKE 'block % (images %'", (r[0],)).fetchone()[0] >= need:
            print(r[0]); sys.exit(0)
        c.close()
    except sqlite3.Error:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}
# What the journal of a run says after its last block: "status S; K safe-state entries; finish F".
after_run() {
  QBENCH_HOME=$1 nice -n 5 "$Q" journal "$2" --json 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)["entries"]
safe = [x for x in e if x["kind"] == "safe-state"]
fin = [x["detail"].split(":")[0] for x in e if x["step"] == "finish"]
blocks = sum(1 for x in e if x["step"].startswith("block ") and "(images" in x["step"])
print("%d safe-state entries; finish %s; %d blocks journaled" % (len(safe), fin[-1] if fin else "none", blocks))' 2>/dev/null || echo "journal unreadable"
}
run_status() {
  QBENCH_HOME=$1 nice -n 5 "$Q" runs --json 2>/dev/null | python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin)["runs"] if x["id"] == sys.argv[1]]
print(r[0]["status"] if r else "absent")' "$2" 2>/dev/null || echo "unreadable"
}
count_runs() { QBENCH_HOME=$1 nice -n 5 "$Q" runs --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))' 2>/dev/null || echo "?"; }
can_mount() { [ "$(id -u)" = 0 ] && mkdir -p "$W/probe" && mount -t tmpfs -o size=64k tmpfs "$W/probe" 2>/dev/null && umount "$W/probe"; }

# ---------------------------------------------------------------------------------------------
# Inputs built once: bench variants of Devices/benches/sim.yaml, model and MNIST files.
SIM=$REPO/Devices/benches/sim.yaml
mkdir -p "$W/in"
fault_bench() {  # fault_bench NAME "YAML of one fault, indented under '  faults:'"
  sed "s/^  faults: \[\]/  faults:\n$2/" "$SIM" > "$W/in/$1.yaml"
}
python3 - "$SIM" "$W/in" "$REPO/Data/mnist" <<'EOF'
import gzip, json, os, struct, sys
sim, out, data = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(sim).read()
def put(name, text): open(os.path.join(out, name), "w").write(text)
head, rest = t.split("safe-state:\n", 1)
tail = rest[rest.index("\nsimulation:"):]
put("safe-state-empty.yaml", head + "safe-state: []\n" + tail)
put("safe-state-no-laser.yaml", head + "safe-state:\n  - shutter: close\n  - server.modulator: zero-drive\n" + tail)
for v in ["inf d", "1e300 d", "1e16 d"]:
    put("validity-%s.yaml" % v.split()[0], t.replace("  modulator: 3650 d", "  modulator: " + v, 1))
put("validity-typo.yaml", t.replace("calibration-validity:\n  laser: 3650 d", "calibration-validity:\n  lazer: 3650 d"))
put("symbol-rate.yaml", t.replace("symbol-rate: 1 GBd", "symbol-rate: 1e400 GBd"))
open(os.path.join(out, "latin1.yaml"), "wb").write(
    t.encode().replace(b"(lossless link, paper setting)", b"(lossless link, caf\xe9 setting)"))
# Billion laughs: 12 levels of 9 aliases (9^12 ~ 2.8e11 strings once expanded), about 4.8 KB.
s = "bench: laughs\nroles: {}\nlol0: &a0 [" + ", ".join(['"' + "lol" * 150 + '"'] * 9) + "]\n"
for k in range(1, 13):
    s += "lol%d: &a%d [" % (k, k) + ", ".join(["*a%d" % (k - 1)] * 9) + "]\n"
put("laughs.yaml", s)
# A model file whose header claims 2^62 rows (format: docs/model-format.md).
h = json.dumps({"architecture": [784, 10], "codeVersion": "t", "createdAt": "t", "formatVersion": 1,
                "layers": [{"rows": 1 << 62, "cols": 4}], "preprocessing": "t", "weightsCRC32": "00000000"}).encode()
open(os.path.join(out, "rows-2e62.qbm"), "wb").write(b"QBNM" + struct.pack("<II", 1, len(h)) + h + bytes(16))
def mnist(name, n_img, rows, cols, body, n_lab, labels):
    d = os.path.join(out, name); os.makedirs(d)
    open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb").write(gzip.compress(b"\0\0\x08\x03" + struct.pack(">III", n_img, rows, cols) + body))
    open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "wb").write(gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", n_lab) + labels))
mnist("idx-ffffffff", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, bytes(64), 0xFFFFFFFF, bytes(4))
mnist("idx-5-images", 5, 28, 28, bytes(i % 251 for i in range(5 * 784)), 5, bytes(range(5)))
# Another test set: the first 300 MNIST test images in reverse order (for a resume with --data).
im = gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")).read()
lb = gzip.open(os.path.join(data, "t10k-labels-idx1-ubyte.gz")).read()
n = 300
mnist("other-300", n, 28, 28, b"".join(im[16 + i * 784:16 + (i + 1) * 784] for i in reversed(range(n))), n, bytes(reversed(lb[8:8 + n])))
EOF
fault_bench at-1e10 '    - role: server.receiver\n      kind: timeout\n      at: 1e10 s'
fault_bench at-1e999 '    - role: server.receiver\n      kind: timeout\n      at: 1e999 s'
fault_bench delay-1e10 '    - role: server.receiver\n      kind: timeout\n      delay: 1e10 s'
fault_bench delay-1e999 '    - role: server.receiver\n      kind: timeout\n      delay: 1e999 s'
fault_bench duration-1e10 '    - role: server.receiver\n      kind: timeout\n      duration: 1e10 s'
fault_bench duration-1e999 '    - role: server.receiver\n      kind: dead-receiver\n      duration: 1e999 s'
fault_bench ramp-1e10 '    - role: server.modulator\n      kind: drift-burst\n      channel: i\n      size: 0.1 rad\n      ramp: 1e10 s'
fault_bench ramp-1e999 '    - role: server.modulator\n      kind: drift-burst\n      channel: i\n      size: 0.1 rad\n      ramp: 1e999 s'
# A 3.1 MB gzip that inflates to 3.2 GB: an IDX header promising 10,000 images, then zeros. The
# deflate stream repeats one fully flushed block of a MiB of zeros (written, never inflated here).
python3 - "$W/in/bomb" <<'EOF'
import os, struct, sys, zlib
d = sys.argv[1]; os.makedirs(d)
chunk, n = 1 << 20, 3052                          # 3052 MiB = 3.2 GB
header = b"\0\0\x08\x03" + struct.pack(">III", 10000, 28, 28)
c = zlib.compressobj(9, zlib.DEFLATED, -15)
first = c.compress(header + bytes(chunk - len(header))) + c.flush(zlib.Z_FULL_FLUSH)
rep = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
crc = zlib.crc32(header + bytes(chunk - len(header)))
zero = bytes(chunk)
for _ in range(n - 1): crc = zlib.crc32(zero, crc)
with open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff" + first)
    for _ in range(n - 1): f.write(rep)
    f.write(c.flush(zlib.Z_FINISH) + struct.pack("<II", crc, (n * chunk) & 0xFFFFFFFF))
EOF
cp "$REPO/Data/mnist/t10k-labels-idx1-ubyte.gz" "$W/in/bomb/"
note "inputs: laughs.yaml $(wc -c < "$W/in/laughs.yaml") bytes; bomb gzip $(wc -c < "$W/in/bomb/t10k-images-idx3-ubyte.gz") bytes for $((3052 * 1048576)) bytes inflated"

# ---------------------------------------------------------------------------------------------
# A calibrated home with one completed run (the twin calibrates itself on the first run).
BASE=$W/base
case_ 0-setup-tiny-run accept "$BASE" -- run --images 20 --block-images 10
RUNOPTS=(--images 20 --block-images 10)

# 1. Fault times beyond the simulated clock (Double -> Int64 trap in Time.duration).
for f in at-1e10 at-1e999 delay-1e10 delay-1e999 duration-1e10 duration-1e999 ramp-1e10 ramp-1e999; do
  case_ "1-fault-$f-s" refuse "$(home_from "$BASE" "$W/h1")" -- run --bench "$W/in/$f.yaml" "${RUNOPTS[@]}"
done

# 2. calibration-validity beyond Duration's range, in `run` and in `calibrate`.
for v in inf 1e300 1e16; do
  case_ "2-validity-$v-d-run" refuse "$(home_from "$BASE" "$W/h2")" -- run --bench "$W/in/validity-$v.yaml" "${RUNOPTS[@]}"
  case_ "2-validity-$v-d-calibrate" refuse "$(home_from "$BASE" "$W/h2")" -- calibrate modulator --bench "$W/in/validity-$v.yaml"
done

# 3. Billion laughs: refused before expansion (the time limit catches a hang).
case_ 3-billion-laughs refuse "$(home_from "$BASE" "$W/h3")" -w anchor -- devices --bench "$W/in/laughs.yaml"

# 4. Model and MNIST files.
case_ 4-model-rows-2e62-model refuse "$(home_from "$BASE" "$W/h4")" -- model --model "$W/in/rows-2e62.qbm"
case_ 4-model-rows-2e62-run refuse "$(home_from "$BASE" "$W/h4")" -- run --model "$W/in/rows-2e62.qbm" "${RUNOPTS[@]}"
case_ 4-idx-counts-0xffffffff refuse "$(home_from "$BASE" "$W/h4")" -- run --data "$W/in/idx-ffffffff" "${RUNOPTS[@]}"
H=$(home_from "$BASE" "$W/h4"); before=$(count_runs "$H")
case_ 4-images-beyond-test-set refuse "$H" -- run --data "$W/in/idx-5-images" "${RUNOPTS[@]}"
after=$(count_runs "$H"); note "4-images-beyond-test-set: runs recorded before $before, after $after"
[ "$before" = "$after" ] || fail 4-images-beyond-test-set "a run record was left behind ($before -> $after runs)"
case_ 4-gzip-3.1MB-to-3.2GB refuse "$(home_from "$BASE" "$W/h4")" -- run --data "$W/in/bomb" "${RUNOPTS[@]}"

# 5. --delta outside (0,1) and bad --vacuum-slots: refused before light, no run record made.
H=$(home_from "$BASE" "$W/h5"); before=$(count_runs "$H")
case_ 5-delta-0 refuse "$H" -- run --delta 0 "${RUNOPTS[@]}"
case_ 5-delta-1 refuse "$H" -- run --delta 1 "${RUNOPTS[@]}"
case_ 5-delta-1.5 refuse "$H" -- run --delta 1.5 "${RUNOPTS[@]}"
case_ 5-vacuum-slots-minus-1 refuse "$H" -- run --vacuum-slots=-1 "${RUNOPTS[@]}"
case_ 5-vacuum-slots-2e40 refuse "$H" -- run --vacuum-slots 1099511627776 "${RUNOPTS[@]}"
case_ 5-vacuum-slots-int-max refuse "$H" -- run --vacuum-slots 9223372036854775807 "${RUNOPTS[@]}"
after=$(count_runs "$H"); note "5-*: runs recorded before $before, after $after (a refusal before light makes no record)"
[ "$before" = "$after" ] || fail 5-delta-and-vacuum "run records were made ($before -> $after)"

# An interrupted run to damage and resume: 100 images on a copy of sim.yaml, SIGHUP after its
# first block (the resume of an untouched copy must finish it).
mkdir -p "$W/rb"; cp "$SIM" "$W/rb/bench.yaml"
RB=$(home_from "$BASE" "$W/rb/home")
t=$(now)
QBENCH_HOME=$RB nice -n 5 "$Q" run --bench "$W/rb/bench.yaml" --images 100 --block-images 10 > "$W/rb/out" 2> "$W/rb/err" < /dev/null &
pid=$!
RID=$(wait_blocks "$RB/runs.sqlite" 1 90); kill -HUP "$pid" 2>/dev/null; wait "$pid"; rc=$?
RSTATUS=$(run_status "$RB" "$RID")
line setup-interrupted-run "$(status_text $rc)" "$(elapsed "$t" "$(now)")" "$(tr '\r' '\n' < "$W/rb/err" | grep -m1 '^Error' | cut -c1-110)… [run ${RID:-none} $RSTATUS]"
if [ "$RSTATUS" != interrupted ]; then note "the run was not interrupted: cases 6b-6e, 9b and 10 are not built"; RID=""; fi

# 6. Damaged rows and configurations in the run database.
H=$(home_from "$RB" "$W/h6a")
if [ -n "$RID" ]; then
  flip "$H/runs.sqlite" run configuration "id = '$RID'" 0
  case_ 6a-runs-one-flipped-byte accept "$H" -e -w damaged -- runs
  case_ 6b-resume-one-flipped-byte refuse "$H" -w damaged -- run --resume "$RID"
  H=$(home_from "$RB" "$W/h6c"); sql "$H/runs.sqlite" "UPDATE run SET status = 7 WHERE id = '$RID'"
  case_ 6c-runs-status-7 accept "$H" -e -w damaged -- runs
  H=$(home_from "$RB" "$W/h6d")
  sql "$H/runs.sqlite" "UPDATE run SET configuration = CAST(json_set(CAST(configuration AS TEXT), '\$.images', 1000000000) AS BLOB) WHERE id = '$RID'"
  case_ 6d-resume-images-1e9 refuse "$H" -w 'configuration \(--images' -- run --resume "$RID"
  H=$(home_from "$RB" "$W/h6e")
  sql "$H/runs.sqlite" "UPDATE run SET configuration = CAST(json_set(CAST(configuration AS TEXT), '\$.blockImages', 0) AS BLOB) WHERE id = '$RID'"
  case_ 6e-resume-blockimages-0 refuse "$H" -w 'configuration \(--block-images' -- run --resume "$RID"
fi

# 7. Two runs at once on one QBENCH_HOME: both finish, each with its safe state and finish entry.
H=$(home_from "$BASE" "$W/h7"); t=$(now)
QBENCH_HOME=$H nice -n 5 "$Q" run "${RUNOPTS[@]}" --json > "$W/h7a.json" 2> "$W/h7a.err" < /dev/null & a=$!
QBENCH_HOME=$H nice -n 5 "$Q" run "${RUNOPTS[@]}" --json > "$W/h7b.json" 2> "$W/h7b.err" < /dev/null & b=$!
wait $a; ra=$?; wait $b; rb=$?
msg=""; ok=1
for j in "$W/h7a.json" "$W/h7b.json"; do
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runId"])' "$j" 2>/dev/null)
  if [ -z "$id" ]; then msg+="a run reported no result ($(firstline "${j%.json}.err")); "; ok=0; continue; fi
  st=$(run_status "$H" "$id"); aft=$(after_run "$H" "$id"); msg+="$id $st, $aft; "
  [ "$st" = completed ] && [[ "$aft" != 0\ * ]] && [[ "$aft" == *"finish completed;"* ]] || ok=0
done
line 7-two-runs-one-home "$ra and $rb" "$(elapsed "$t" "$(now)")" "${msg%; }"
{ [ $ra -ge 128 ] || [ $rb -ge 128 ]; } && fail 7-two-runs-one-home "SIGNAL"
[ $ok = 1 ] && [ $ra = 0 ] && [ $rb = 0 ] || fail 7-two-runs-one-home "a run did not complete with its safe state and finish entries"

# 8. A full disk in the middle of a run (a 1 MiB tmpfs holding the home).
if can_mount; then
  M=$W/full; mkdir -p "$M"; mount -t tmpfs -o size=1m tmpfs "$M" && MOUNTS+=("$M")
  cp -a "$BASE/." "$M/" 2>/dev/null || true   # the copy is meant to fill the file system
  qrun "$M" run --images 2000 --block-images 10
  judge 8-disk-full refuse "" ""
  cp -a "$M" "$W/full-copy"; umount "$M"
  id=$(QBENCH_HOME=$W/full-copy nice -n 5 "$Q" runs --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])' 2>/dev/null)
  st=$(run_status "$W/full-copy" "$id"); aft=$(after_run "$W/full-copy" "$id")
  line 8-disk-full "$(status_text "$RC")" "$SECS" "$MSG [then: run $id $st, $aft]"
  [ "$st" = running ] && fail 8-disk-full "DATA: the run is left '$st'"
  [[ "$aft" == 0\ * || "$aft" == "journal unreadable" ]] && fail 8-disk-full "DATA: no safe-state entries journaled ($aft)"
  echo "$MSG" | grep -qE 'SQLite error [0-9]+' && fail 8-disk-full "MESSAGE is a bare SQLite error"
else
  line 8-disk-full "not run" 0 "needs root and mount -t tmpfs; not built here"
fi

# 9. A zero-byte database, a damaged checkpoint.
H=$(home_from "$BASE" "$W/h9a"); rm -f "$H"/runs.sqlite-*; : > "$H/runs.sqlite"
case_ 9a-zero-byte-db-runs refuse "$H" -w 'not a qbench run database' -- runs
case_ 9a-zero-byte-db-run refuse "$H" -w 'not a qbench run database' -- run "${RUNOPTS[@]}"
size=$(stat -c %s "$H/runs.sqlite"); note "9a: runs.sqlite is $size bytes afterwards"
[ "$size" = 0 ] || fail 9a-zero-byte-db "the empty database was re-initialised ($size bytes)"
if [ -n "$RID" ]; then
  H=$(home_from "$RB" "$W/h9b"); flip "$H/runs.sqlite" journal checkpoint "runId = '$RID' AND checkpoint IS NOT NULL" -1
  case_ 9b-resume-damaged-checkpoint refuse "$H" -w checksum -- run --resume "$RID"
fi

# 10. Resume against changed surroundings: each on its own copy of the interrupted run.
# After a resume that was accepted: how many images it ran, and whether it said anything about
# the change (a warning would show here).
resume_note() {
  [ "$RC" -eq 0 ] || return 0
  local said
  said=$(tr '\r' '\n' < "$ERR" | grep -iE -m1 'ignor|warn|differ|changed|edited|mismatch' | cut -c1-160)
  note "$1: $(grep -m1 '^images' "$OUT" | tr -s ' '); on stderr about the change: ${said:-nothing}"
}
if [ -n "$RID" ]; then
  cp "$W/rb/bench.yaml" "$W/rb/bench.orig"
  sed -i 's/current: {max: 100 mA}/current: {max: 150 mA}/' "$W/rb/bench.yaml"
  case_ 10a-resume-edited-bench-laser-limit-150mA refuse "$(home_from "$RB" "$W/h10")" -- run --resume "$RID"
  resume_note 10a-resume-edited-bench-laser-limit-150mA
  cp "$W/rb/bench.orig" "$W/rb/bench.yaml"
  case_ 10b-resume-other-data refuse "$(home_from "$RB" "$W/h10")" -- run --resume "$RID" --data "$W/in/other-300"
  resume_note 10b-resume-other-data
  H=$(home_from "$RB" "$W/h10c")
  qrun "$H" calibrate all --store "$W/store-other"
  line setup-other-store "$(status_text "$RC")" "$SECS" "calibrate all --store (new records, same station key): $MSG"
  case_ 10c-resume-other-store refuse "$H" -- run --resume "$RID" --store "$W/store-other"
  resume_note 10c-resume-other-store
  note "10c-resume-other-store: calibration record sets named by the run's preflight entries: $(QBENCH_HOME=$H nice -n 5 "$Q" journal "$RID" --json 2>/dev/null | python3 -c '
import json, sys
p = [x["detail"].split(";")[0] for x in json.load(sys.stdin)["entries"] if x["step"] == "preflight"]
print("%d entries, %d distinct sets" % (len(p), len(set(p))))' 2>/dev/null)"
  case_ 10d-resume-conflicting-images-50 refuse "$(home_from "$RB" "$W/h10")" -- run --resume "$RID" --images 50
  resume_note 10d-resume-conflicting-images-50
  case_ 10e-resume-conflicting-gain-3 refuse "$(home_from "$RB" "$W/h10")" -- run --resume "$RID" --gain 3
  resume_note 10e-resume-conflicting-gain-3
  mv "$W/rb/bench.yaml" "$W/rb/bench.away"
  case_ 10f-resume-stored-bench-file-gone accept "$(home_from "$RB" "$W/h10")" -- run --resume "$RID"
  resume_note 10f-resume-stored-bench-file-gone
  mv "$W/rb/bench.away" "$W/rb/bench.yaml"
  case_ 10g-resume-unchanged-control accept "$(home_from "$RB" "$W/h10")" -- run --resume "$RID"
  resume_note 10g-resume-unchanged-control
fi

# 11. Safe-state sections that leave an emitting device as it is.
case_ 11-safe-state-empty refuse "$(home_from "$BASE" "$W/h11")" -w server.laser -- run --bench "$W/in/safe-state-empty.yaml" "${RUNOPTS[@]}"
case_ 11-safe-state-without-laser refuse "$(home_from "$BASE" "$W/h11")" -w server.laser -- run --bench "$W/in/safe-state-no-laser.yaml" "${RUNOPTS[@]}"

# 12. SIGHUP during a run: it stops at the next safe point, in the safe state, resumable.
H=$(home_from "$BASE" "$W/h12"); t=$(now)
QBENCH_HOME=$H nice -n 5 "$Q" run --images 2000 --block-images 10 > "$W/h12.out" 2> "$W/h12.err" < /dev/null &
pid=$!
id=$(wait_blocks "$H/runs.sqlite" 1 90); th=$(now); kill -HUP "$pid" 2>/dev/null; wait "$pid"; rc=$?
st=$(run_status "$H" "$id"); aft=$(after_run "$H" "$id")
line 12-sighup-mid-run "$(status_text $rc)" "$(elapsed "$t" "$(now)")" "$(tr '\r' '\n' < "$W/h12.err" | grep -m1 '^Error' | cut -c1-160)… [SIGHUP at $(elapsed "$t" "$th") s, exit $(elapsed "$th" "$(now)") s later; run $id $st, $aft]"
[ $rc -ge 128 ] && fail 12-sighup-mid-run "SIGNAL: killed at once"
[ "$st" = interrupted ] || fail 12-sighup-mid-run "run left '$st' (not resumable as interrupted)"
[[ "$aft" == 0\ * || "$aft" == "journal unreadable" ]] && fail 12-sighup-mid-run "no safe-state entries ($aft)"

# 13. SIGKILL of a process driving real instruments: the safety guard (bus level).
line 13-sigkill-real-instruments "not run" 0 "test only: Tests/BusTests/EngineKillBusTests.swift (docs/safety-guard.md)"

# 14. Messages.
case_ 14-non-utf8-bench refuse "$(home_from "$BASE" "$W/h14")" -w 'not UTF-8' -- run --bench "$W/in/latin1.yaml" "${RUNOPTS[@]}"
case_ 14-budget-minus-1 refuse "$(home_from "$BASE" "$W/h14")" -x 'Missing value' -- run --budget -1 "${RUNOPTS[@]}"
case_ 14-budget-equals-minus-1 refuse "$(home_from "$BASE" "$W/h14")" -w 'budget' -- run --budget=-1 "${RUNOPTS[@]}"
H=$(home_from "$BASE" "$W/h14g"); rm -f "$H"/runs.sqlite-*; head -c 8192 /dev/zero | tr '\0' '\253' > "$H/runs.sqlite"
case_ 14-foreign-8KB-db-runs refuse "$H" -x '^Error: SQLite error' -w 'qbench leaves it untouched' -- runs
H=$(home_from "$RB" "$W/h14p"); sql "$H/runs.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null; rm -f "$H"/runs.sqlite-*
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[4096:8192]=bytes((i*131)&255 for i in range(4096,8192)); open(p,"wb").write(b)' "$H/runs.sqlite"
case_ 14-damaged-page-db-runs refuse "$H" -x '^Error: SQLite error' -w damaged -- runs
case_ 14-damaged-page-db-run refuse "$H" -x '^Error: SQLite error' -w damaged -- run "${RUNOPTS[@]}"
if can_mount && [ -n "$RID" ]; then
  M=$W/ro; mkdir -p "$M"; mount -t tmpfs -o size=16m tmpfs "$M" && MOUNTS+=("$M")
  cp -a "$RB/." "$M/"; mount -o remount,ro "$M"
  case_ 14-read-only-home-runs accept "$M" -- runs
  case_ 14-read-only-home-journal accept "$M" -- journal "$RID"
  case_ 14-read-only-home-report accept "$M" -- report "$RID" --output "$W/ro-report.html"
  case_ 14-read-only-home-run refuse "$M" -x '^Error: SQLite error' -- run "${RUNOPTS[@]}"
  umount "$M"
else
  line 14-read-only-home "not run" 0 "needs root and mount -t tmpfs (root ignores file modes); not built here"
fi
case_ 14-misspelt-calibration-validity-key refuse "$(home_from "$BASE" "$W/h14")" -w "unknown key 'lazer'" -- run --bench "$W/in/validity-typo.yaml" "${RUNOPTS[@]}"
case_ 14-symbol-rate-1e400-GBd refuse "$(home_from "$BASE" "$W/h14")" -w '1e400' -- run --bench "$W/in/symbol-rate.yaml" "${RUNOPTS[@]}"

echo "# total $(elapsed "$T0" "$(now)") s"
if [ ${#FAILURES[@]} -eq 0 ]; then echo "# all cases passed"; exit 0; fi
echo "# ${#FAILURES[@]} failed checks:"
for f in "${FAILURES[@]}"; do echo "#   $f"; done
exit 1
