#!/usr/bin/env bash
# Every shell script of the tree passes shellcheck (with -x: sourced files are followed): the
# set-up and test scripts, the benchmarks, the host tool, the package's maintainer scripts.
# Scripts are found by their first line, so a new one is checked without being listed here.
# Exits 77 (skipped) without shellcheck.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v shellcheck > /dev/null || { echo "SKIP: no shellcheck"; exit 77; }
cd "$root"
if [ -d .git ] && command -v git > /dev/null; then
  mapfile -t files < <(git ls-files)
else
  mapfile -t files < <(find . -path ./build\* -prune -o -path ./var -prune -o -path ./third_party -prune \
    -o -type f -print | sed 's|^\./||')
fi
scripts=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  case "$(head -c 64 "$f" 2> /dev/null | tr -d '\0' | head -1)" in
    '#!/usr/bin/env bash'* | '#!/bin/bash'* | '#!/bin/sh'* | '#!/usr/bin/env sh'*) scripts+=("$f") ;;
  esac
done
[ ${#scripts[@]} -gt 5 ] || { echo "FAIL: found only ${#scripts[@]} scripts" >&2; exit 1; }
if shellcheck -x "${scripts[@]}"; then
  echo "shellcheck: ${#scripts[@]} scripts clean"
else
  echo "FAIL: shellcheck found problems (above)" >&2
  exit 1
fi
