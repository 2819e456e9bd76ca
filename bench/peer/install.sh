#!/usr/bin/env bash
# Installs the Node.js peer (bench/peer/node_modules) exactly from package-lock.json.
# Idempotent: does nothing when node_modules already matches the lock file (use --force to
# reinstall). Needs node >= 18 and npm; packages come from the npm registry only (install scripts
# are disabled: none of these packages needs one, and nothing is downloaded from elsewhere).
#
#   bench/peer/install.sh [--force]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

die() { echo "bench/peer/install.sh: $*" >&2; exit 1; }

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

command -v node >/dev/null || die "node not found (need Node.js >= 18)"
command -v npm >/dev/null || die "npm not found"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js >= 18 required, found $(node --version)"
[ -f package-lock.json ] || die "package-lock.json missing in $here"

# npm flags: quiet, no audit/fund, no lifecycle scripts.
errlog="$(mktemp)"
trap 'rm -f "$errlog"' EXIT
npm_flags=(--no-audit --no-fund --ignore-scripts --loglevel=error)

installed_ok() {
  [ -f node_modules/.package-lock.json ] || return 1
  [ node_modules/.package-lock.json -nt package-lock.json ] || return 1
  [ -f node_modules/@vladmandic/face-api/dist/face-api.node-wasm.js ] || return 1
  [ -f node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm ] || return 1
  [ -f node_modules/@vladmandic/face-api/model/ssd_mobilenetv1_model.bin ] || return 1
  [ -f node_modules/@vladmandic/face-api/model/face_landmark_68_model.bin ] || return 1
  # every locked version is what is installed
  node -e '
    const lock = require("./package-lock.json").packages;
    for (const [p, v] of Object.entries(lock)) {
      if (!p) continue;
      let got; try { got = require("./" + p + "/package.json").version; } catch { process.exit(1); }
      if (got !== v.version) process.exit(1);
    }' 2>/dev/null
}

if [ "$force" = 0 ] && installed_ok; then
  echo "bench/peer: node_modules up to date"
  exit 0
fi

registry="$(npm config get registry 2>/dev/null)"
if ! timeout 60 npm ping --loglevel=error --fetch-retries=0 --fetch-timeout=20000 >/dev/null 2>&1; then
  # Unreachable registry: only a complete local npm cache can still do it.
  echo "bench/peer: npm registry $registry unreachable; trying the local npm cache" >&2
  if ! npm ci --offline "${npm_flags[@]}" >/dev/null 2>"$errlog"; then
    cat "$errlog" >&2
    die "cannot install: the npm registry ($registry) is unreachable and the npm cache does not hold every locked package"
  fi
else
  if ! npm ci --prefer-offline "${npm_flags[@]}" >/dev/null 2>"$errlog"; then
    cat "$errlog" >&2
    die "npm ci failed (registry $registry)"
  fi
fi
installed_ok || die "install finished but node_modules does not match package-lock.json"

# Smoke test: the wasm backend loads from node_modules.
# shellcheck disable=SC2016  # a JavaScript template string: ${...} is for node, not the shell
node -e 'require("./peer").initBackend().then((i) => console.log(`bench/peer: installed (tfjs ${require("@tensorflow/tfjs").version.tfjs}, face-api ${require("@vladmandic/face-api/package.json").version}, backend ${i.backend}, simd ${i.simd})`)).catch((e) => { console.error(e.message); process.exit(1); })' \
  || die "installed, but the tfjs wasm backend does not start"
