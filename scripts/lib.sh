# Shared by the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

FACEGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FACEGATE_ROOT

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s  [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing packages needs root: run this as root or install sudo (needed: $*)"
  fi
}

# Parallel compile jobs: one per core, but no more than one per 2 GB of RAM (a dlib
# translation unit takes ~1.8 GB).
build_jobs() {
  local cores mem_kb by_mem
  cores=$(nproc 2>/dev/null || echo 2)
  mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo 2>/dev/null || echo 4000000)
  by_mem=$((mem_kb / 2000000))
  [ "$by_mem" -lt 1 ] && by_mem=1
  if [ "$by_mem" -lt "$cores" ]; then echo "$by_mem"; else echo "$cores"; fi
}
