# Shared by the benchmark scripts (bench/*/run.sh); sourced, not run.
# shellcheck shell=bash

# bench_json FILE EXPR: prints EXPR evaluated in Python with the JSON of FILE as `d`.
bench_json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# bench_start_daemon WORK ROOT BUILD: a facegated on loopback ports (Release defaults but two
# face workers and two I/O threads, warnings only in its log) with its data under WORK/data,
# its first admin token in WORK/token. Sets daemon_pid, admin_port and device_port; the
# caller's EXIT trap stops it.
bench_start_daemon() {
  local work="$1" root="$2" build="$3"
  cat > "$work/facegate.json" <<JSON
{
  "data_dir": "data",
  "log": { "level": "warn", "format": "text" },
  "server": { "io_threads": 2, "ports_file": "ports.json" },
  "tls": { "server_addresses": ["127.0.0.1"] },
  "face": { "models_dir": "$root/models", "workers": 2 },
  "listeners": {
    "device": { "address": "127.0.0.1", "port": 0 },
    "admin": { "address": "127.0.0.1", "port": 0 },
    "enrollment": { "enabled": false }
  }
}
JSON
  "$build/src/app/facegated" --init --config "$work/facegate.json" > "$work/init.txt" 2>&1
  grep -o 'fgt_[A-Za-z0-9_-]*' "$work/init.txt" | head -1 > "$work/token"
  chmod 600 "$work/token"
  "$build/src/app/facegated" --config "$work/facegate.json" > "$work/daemon.log" 2>&1 &
  # shellcheck disable=SC2034
  daemon_pid=$!
  for _ in $(seq 1 600); do [ -s "$work/ports.json" ] && break; sleep 0.1; done
  if [ ! -s "$work/ports.json" ]; then
    cat "$work/daemon.log" >&2
    return 1
  fi
  # shellcheck disable=SC2034  # used by the scripts that source this
  admin_port="$(bench_json "$work/ports.json" 'd["ports"]["admin"]')"
  # shellcheck disable=SC2034
  device_port="$(bench_json "$work/ports.json" 'd["ports"]["device"]')"
}
