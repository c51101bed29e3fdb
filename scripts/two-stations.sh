#!/usr/bin/env bash
# The protocol as two programs: a server station (`qbench serve`) and a client station
# (`qbench client`), each running its half of the simulated bench Devices/benches/sim.yaml, joined by
# the twin's fibre (sim-fiber://) and by gRPC with mutual TLS (a lab PKI made here). Each station
# has its own QBENCH_HOME: its own key, calibration store and run database.
#
#   scripts/two-stations.sh [--images N] [--budget B] [--burst-shots S] [--client BEHAVIOUR] [--netns] [--keep DIR] [--client-live [HOST:]PORT]
#
#   --images N          test images of the session (default 1000)
#   --budget B          the server's weight-leakage budget, bit per mode (default 0.1)
#   --burst-shots S     shots per trigger burst (default 32)
#   --client BEHAVIOUR  the client twin's optics: honest (default), greedy-tap:R, over-amplify:G2,
#                       intercept-resend (a cheating client the server's check should abort)
#   --netns             each station in its own network namespace, joined by a veth pair
#                       (10.77.0.1 server, 10.77.0.2 client; needs root and iproute2)
#   --client-live ADDR  the client station serves its live page there during the session (docs/live-view.md)
#   --keep DIR          keep the stations' homes, logs and PKI in DIR (default: a temporary folder,
#                       removed at the end)
#
# The stations first measure the link together (`--calibrate-link`), then run the session.
# Waits for the session to end and prints one JSON object, {"server": {...}, "client": {...}},
# each station's own report (`qbench serve --json`, `qbench client --json`): its run database,
# the session id, the decision, certified, aborted; the client's accuracy and images.
set -euo pipefail
cd "$(dirname "$0")/.."
images=1000 budget=0.1 behaviour=honest netns=0 keep="" burst=32 client_live=()
while [ $# -gt 0 ]; do
    case "$1" in
        --images) images="$2"; shift 2 ;;
        --budget) budget="$2"; shift 2 ;;
        --burst-shots) burst="$2"; shift 2 ;;
        --client) behaviour="$2"; shift 2 ;;
        --netns) netns=1; shift ;;
        --keep) keep="$2"; shift 2 ;;
        --client-live) client_live=(--live "$2"); shift 2 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "two-stations.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

qbench=${QBENCH:-.build/debug/qbench}
if [ ! -x "$qbench" ]; then swift build --product qbench >&2; fi
qbench=$(realpath "$qbench")
bench=$(realpath Devices/benches/sim.yaml)

if [ -n "$keep" ]; then mkdir -p "$keep"; work=$(realpath "$keep"); else work=$(mktemp -d); fi
tag="qb$$"
server_pid="" client_pid=""
cleanup() {
    [ -n "$client_pid" ] && kill -9 "$client_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
    if [ "$netns" = 1 ]; then
        ip netns del "$tag-s" 2>/dev/null || true
        ip netns del "$tag-c" 2>/dev/null || true
    fi
    [ -z "$keep" ] && rm -rf "$work"
    return 0
}
trap cleanup EXIT
# SIGTERM or Ctrl-C end the script at once (a wait is interrupted), and the EXIT trap stops both stations.
trap 'exit 143' TERM
trap 'exit 130' INT

run_server=() run_client=()
if [ "$netns" = 1 ]; then
    command -v ip >/dev/null || { echo "two-stations.sh: --netns needs iproute2 (apt-get install iproute2)" >&2; exit 2; }
    ip netns add "$tag-s"
    ip netns add "$tag-c"
    ip link add "$tag-vs" type veth peer name "$tag-vc"
    ip link set "$tag-vs" netns "$tag-s"
    ip link set "$tag-vc" netns "$tag-c"
    ip -n "$tag-s" addr add 10.77.0.1/30 dev "$tag-vs"
    ip -n "$tag-c" addr add 10.77.0.2/30 dev "$tag-vc"
    for ns in "$tag-s" "$tag-c"; do ip -n "$ns" link set lo up; done
    ip -n "$tag-s" link set "$tag-vs" up
    ip -n "$tag-c" link set "$tag-vc" up
    host=10.77.0.1
    run_server=(ip netns exec "$tag-s")
    run_client=(ip netns exec "$tag-c")
else
    host=127.0.0.1
fi
# Ports: gRPC and the fibre, away from the usual ones.
grpc_port=$((20000 + RANDOM % 20000))
fiber_port=$((grpc_port + 1))

"$qbench" pki init --dir "$work/pki" >/dev/null
"$qbench" pki issue --dir "$work/pki" --name server-a --role server --san "$host" >/dev/null
"$qbench" pki issue --dir "$work/pki" --name client-b --role client --san 10.77.0.2 >/dev/null
allow=$("$qbench" pki fingerprint "$work/pki/client-b.pem" | grep '^cert-sha256:')
# The server station's file: whom it admits (docs/two-sites.md).
cat >"$work/server-station.yaml" <<STATION
admit:
  - client: client-b
    fingerprint: $allow
STATION

# Starts the server station with extra options, logging to $work/$1.*; waits until it listens.
start_server() {
    local name=$1; shift
    QBENCH_HOME="$work/server" "${run_server[@]}" "$qbench" serve --bench "$bench" --fiber "$host:$fiber_port" \
        --pki "$work/pki" --name server-a --listen "$host:$grpc_port" --station-file "$work/server-station.yaml" \
        --sessions 1 --json "$@" >"$work/$name.json" 2>"$work/$name.log" &
    server_pid=$!
    # The server calibrates its half of the twin on first use, then listens.
    for _ in $(seq 1 600); do
        grep -q '^serving on' "$work/$name.log" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/$name.log" >&2; echo "two-stations.sh: the server station exited before serving" >&2; exit 1; }
        sleep 0.2
    done
    echo "two-stations.sh: the server station did not start within 120 s" >&2; exit 1
}
# Runs the client station with extra options, logging to $work/$1.*; its exit status.
run_client() {
    local name=$1; shift
    local status=0
    QBENCH_HOME="$work/client" "${run_client[@]}" "$qbench" client --bench "$bench" --fiber "$host:$fiber_port" \
        --pki "$work/pki" --name client-b --connect "$host:$grpc_port" --json "$@" >"$work/$name.json" 2>"$work/$name.log" &
    client_pid=$!
    wait "$client_pid" || status=$?
    client_pid=""
    return $status
}

# 1. The link, measured jointly: each station records its part (docs/two-sites.md).
start_server server-link --calibrate-link
run_client client-link --calibrate-link || { cat "$work/client-link.log" "$work/server-link.log" >&2; echo "two-stations.sh: the joint link calibration failed" >&2; exit 1; }
wait "$server_pid" || true
server_pid=""

# 2. The session.
start_server server --images "$images" --budget "$budget" --burst-shots "$burst"
client_status=0
run_client client --behaviour "$behaviour" "${client_live[@]}" || client_status=$?
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
for side in server client; do
    if [ ! -s "$work/$side.json" ]; then
        cat "$work/$side.log" >&2
        echo "two-stations.sh: the $side station reported nothing (exit status $([ $side = server ] && echo $server_status || echo $client_status))" >&2
        exit 1
    fi
done
printf '{"server": %s, "client": %s}\n' "$(cat "$work/server.json")" "$(cat "$work/client.json")"
