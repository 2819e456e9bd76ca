#!/usr/bin/env bash
# Bulk import throughput: `facegatectl import` of a generated set of 640x480 one-face photos
# (tools/photoset) into a real facegated, side by side in one run with the face engine alone
# on the same photos (the import's ceiling: every photo must be decoded, detected and
# embedded). Prints both rates and their ratio; results go to docs/BENCHMARKS.md.
#
#   bench/import/run.sh [BUILD_DIR] [PHOTOS] [JOBS]   (defaults: build, 500, 4)
#
# Needs a build with facegated, facegatectl and facegate-photoset, and the models under
# models/ (scripts/setup). Everything runs on loopback in a temporary directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
photos="${2:-500}"
jobs="${3:-4}"
work="$(mktemp -d /tmp/facegate-import-bench.XXXXXX)"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "set: $photos photos (2 per row), facegatectl import --jobs $jobs"

"$build/tools/facegate-photoset" --models "$root/models" --out "$work/set" --photos "$photos" \
  > "$work/set.json"
engine_rate="$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["engine_photos_per_second"],1))' "$work/set.json")"

bench_start_daemon "$work" "$root" "$build"
port="$admin_port"

set +e
"$build/src/app/facegatectl" import "$work/set/import.csv" --jobs "$jobs" --json \
  --url "https://127.0.0.1:$port" --ca "$work/data/pki/ca.crt" --token-file "$work/token" \
  > "$work/import.json" 2> "$work/import.err"
rc=$?
set -e
if [ "$rc" -gt 1 ]; then cat "$work/import.err" >&2; exit "$rc"; fi
python3 - "$work/import.json" "$engine_rate" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
engine = float(sys.argv[2])
rate = s["photos_per_second"]
print(f"import: {s['rows']} rows, {s['photos']} photos in {s['seconds']:.1f} s: {rate:.1f} photos/s "
      f"({s['imported']} imported, {s['rejected']} rejected)")
print(f"engine alone (2 workers, in-process, same photos): {engine:.1f} photos/s")
print(f"import / engine: {rate / engine:.2f}")
PY
