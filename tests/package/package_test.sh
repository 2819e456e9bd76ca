#!/usr/bin/env bash
# The Debian packages, built and installed for real (issue 10): cpack builds facegate and
# facegate-tools from this build; their contents, control fields and maintainer scripts are
# checked; then, as root on a machine where that is allowed (CI, a development VM), the
# package is installed with dpkg, the daemon started as the `facegate` user on loopback ports
# with the installed models and /readyz asked, and the package purged: nothing may be left.
#
#   package_test.sh BUILD_DIR
# Exit 0 passed, 1 failed, 77 skipped (not root, no dpkg, or facegate installed already).
set -euo pipefail
build="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
command -v dpkg-deb > /dev/null || skip "no dpkg-deb"
command -v cpack > /dev/null || skip "no cpack"
work="$(mktemp -d /tmp/facegate-package-test.XXXXXX)"
daemon_pid=""
installed=0
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2> /dev/null || true
    wait "$daemon_pid" 2> /dev/null || true
  fi
  if [ "$installed" = 1 ]; then
    dpkg --purge facegate > "$work/purge.log" 2>&1 || cat "$work/purge.log" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Build the packages from this build tree.
(cd "$build" && cpack -G DEB -B "$work/out" > "$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log" >&2
  fail "cpack"
}
deb="$(find "$work/out" -maxdepth 1 -name 'facegate_*.deb' | head -1)"
tools="$(find "$work/out" -maxdepth 1 -name 'facegate-tools_*.deb' | head -1)"
if [ -z "$deb" ] || [ -z "$tools" ]; then fail "cpack made no facegate / facegate-tools .deb"; fi

# 2. Contents.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/files"
for f in /usr/bin/facegated /usr/bin/facegatectl /etc/facegate/facegate.json \
  /lib/systemd/system/facegated.service /usr/share/facegate/models/face_recognition_model.bin \
  /usr/share/facegate/models/face_recognition_model-weights_manifest.json \
  /usr/share/facegate/models/shape_predictor_68_face_landmarks.dat \
  /usr/share/man/man8/facegated.8.gz /usr/share/man/man8/facegatectl.8.gz \
  /usr/sbin/facegate-install-host /usr/share/man/man8/facegate-install-host.8.gz \
  /lib/systemd/system/facegate-backup.service /lib/systemd/system/facegate-backup.timer \
  /usr/share/doc/facegate/facegated.md /usr/share/facegate/web/index.html; do
  grep -qx "$f" "$work/files" || fail "$deb lacks $f"
done
if grep -q '/usr/bin/facegate-devsim\|/usr/bin/facegate-ship-sim' "$work/files"; then
  fail "the simulators belong in facegate-tools, not in facegate"
fi
dpkg-deb -c "$tools" | awk '{print $6}' | sed 's|^\./|/|' > "$work/tool-files"
for f in /usr/bin/facegate-devsim /usr/bin/facegate-ship-sim /usr/bin/facegate-photoset \
  /usr/bin/facegate-filler /usr/share/man/man1/facegate-devsim.1.gz \
  /usr/share/man/man1/facegate-photoset.1.gz /usr/share/man/man1/facegate-filler.1.gz; do
  grep -qx "$f" "$work/tool-files" || fail "$tools lacks $f"
done
# Stripped, and the landmark model is Debian's (a link), not a copy.
dpkg-deb -x "$deb" "$work/root"
if readelf -S "$work/root/usr/bin/facegated" | grep -q '\.symtab'; then
  fail "facegated is not stripped"
fi
[ "$(readlink "$work/root/usr/share/facegate/models/shape_predictor_68_face_landmarks.dat")" = \
  ../../dlib/shape_predictor_68_face_landmarks.dat ] || fail "landmark model link"
zcat "$work/root/usr/share/man/man8/facegated.8.gz" | grep -q '^\.TH "FACEGATED" "8"' ||
  fail "facegated.8 is not a man page"

# Debian's own checks: no error or warning from lintian (policy, man pages, copyright, links).
if command -v lintian > /dev/null; then
  lintian --fail-on error,warning \
    "$deb" "$tools" > "$work/lintian.log" 2>&1 || { cat "$work/lintian.log" >&2; fail "lintian"; }
  echo "lintian: no errors or warnings"
fi

# 3. Control fields and maintainer scripts.
dpkg-deb -f "$deb" Package Depends Section > "$work/control"
grep -q '^Package: facegate$' "$work/control" || fail "Package field"
grep -q '^Depends:.*adduser' "$work/control" || fail "Depends lacks adduser"
grep -q '^Depends:.*libdlib-data' "$work/control" || fail "Depends lacks libdlib-data"
grep -q '^Depends:.*libssl3' "$work/control" || fail "Depends lacks the libraries (shlibdeps)"
dpkg-deb -e "$deb" "$work/control.d"
grep -qx /etc/facegate/facegate.json "$work/control.d/conffiles" || fail "conffiles"
for s in postinst prerm postrm; do
  [ -x "$work/control.d/$s" ] || fail "$s missing or not executable"
  if command -v shellcheck > /dev/null; then shellcheck "$work/control.d/$s" || fail "shellcheck $s"; fi
done
grep -q 'facegated --init' "$work/control.d/postinst" || fail "postinst must let facegated --init make the keys"

# 4. Installed for real: only as root, and never over a real installation.
[ "$(id -u)" = 0 ] || skip "contents checked; installing needs root"
command -v dpkg > /dev/null || skip "no dpkg"
if dpkg -s facegate > /dev/null 2>&1 || getent passwd facegate > /dev/null || [ -e /var/lib/facegate ] ||
  [ -e /etc/facegate ]; then
  skip "contents checked; facegate is installed on this machine already: not touching it"
fi
installed=1
dpkg -i "$deb" > "$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i"; }
grep -q 'fgt_' "$work/install.log" || fail "the first admin token was not printed by the install"
token="$(grep -o 'fgt_[A-Za-z0-9_-]*' "$work/install.log" | head -1)"
getent passwd facegate | grep -q ':/var/lib/facegate:/usr/sbin/nologin$' || fail "facegate user"
[ "$(stat -c '%U:%G %a' /var/lib/facegate)" = "facegate:facegate 750" ] || fail "data dir owner/mode"
[ "$(stat -c '%U:%G %a' /etc/facegate/facegate.json)" = "root:facegate 640" ] || fail "config mode"
[ "$(stat -c '%U %a' /var/lib/facegate/keys/template.key)" = "facegate 600" ] || fail "template key"
[ -s /var/lib/facegate/pki/ca.crt ] || fail "no local CA"
[ "$(stat -c '%U:%G %a' /var/backups/facegate)" = "facegate:facegate 700" ] || fail "backup dir"

# The unit: valid (its binaries exist now), and its sandbox scored (systemd is not PID 1 on
# the development machines: the score is systemd-analyze's offline reading of the file).
if command -v systemd-analyze > /dev/null; then
  systemd-analyze verify /lib/systemd/system/facegated.service > "$work/verify.log" 2>&1 || {
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify facegated.service"
  }
  score="$(systemd-analyze security --offline=true /lib/systemd/system/facegated.service 2>&1 |
    sed -n 's/.*Overall exposure level for facegated.service: \([0-9.]*\).*/\1/p')"
  [ -n "$score" ] || fail "no systemd-analyze security score"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "unit exposure $score > 2.0"
  echo "facegated.service: systemd-analyze security exposure $score"
  systemd-analyze verify /lib/systemd/system/facegate-backup.timer \
    /lib/systemd/system/facegate-backup.service > "$work/verify-backup.log" 2>&1 || {
    cat "$work/verify-backup.log" >&2
    fail "systemd-analyze verify facegate-backup.timer/.service"
  }
fi
# The host hardening tool, installed: a dry run prints the ruleset and changes nothing.
/usr/sbin/facegate-install-host --firewall --terminals 192.0.2.0/24 --management 198.51.100.0/24 \
  --dry-run > "$work/install-host.log" 2>&1 || { cat "$work/install-host.log" >&2; fail "facegate-install-host --dry-run"; }
grep -q 'ip saddr { 192.0.2.0/24 } tcp dport 443 accept' "$work/install-host.log" ||
  fail "facegate-install-host: no device-port rule for the terminals"
[ ! -e /etc/facegate/firewall.nft ] || fail "the dry run wrote the ruleset"

# The installed daemon, as its user, with the installed models, on loopback ports.
cat > "$work/loopback.json" << 'JSON'
{
  "data_dir": "/var/lib/facegate",
  "log": { "level": "warn", "format": "text" },
  "server": { "ports_file": "/var/lib/facegate/ports.json" },
  "face": { "models_dir": "/usr/share/facegate/models", "workers": 1 },
  "listeners": {
    "device": { "address": "127.0.0.1", "port": 0 },
    "admin": { "address": "127.0.0.1", "port": 0 },
    "enrollment": { "enabled": false }
  }
}
JSON
chmod 644 "$work/loopback.json"
chmod 711 "$work"
# setpriv execs the daemon itself (runuser would stay its parent): the pid is the daemon's.
setpriv --reuid facegate --regid facegate --init-groups -- /usr/bin/facegated \
  --config "$work/loopback.json" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 300); do [ -s /var/lib/facegate/ports.json ] && break; sleep 0.1; done
[ -s /var/lib/facegate/ports.json ] || { cat "$work/daemon.log" >&2; fail "the daemon did not start"; }
port="$(sed -n 's/.*"admin": *\([0-9]*\).*/\1/p' /var/lib/facegate/ports.json)"
[ -n "$port" ] || fail "no admin port in ports.json"
ready=""
for _ in $(seq 1 100); do
  ready="$(curl -s --cacert /var/lib/facegate/pki/ca.crt "https://127.0.0.1:$port/readyz" || true)"
  case "$ready" in *'"status":"ready"'*) break ;; esac
  sleep 0.2
done
case "$ready" in *'"status":"ready"'*) ;; *) cat "$work/daemon.log" >&2; fail "readyz: $ready" ;; esac
me="$(curl -s --cacert /var/lib/facegate/pki/ca.crt -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$port/api/v1/system" || true)"
case "$me" in *'"version"'*) ;; *) fail "the install's admin token is refused: $me" ;; esac
# The installed web console, from its default place (admin.console_dir).
page="$(curl -s --cacert /var/lib/facegate/pki/ca.crt "https://127.0.0.1:$port/" || true)"
case "$page" in *'/assets/'*) ;; *) fail "the web console is not served: $page" ;; esac
[ "$(ps -o user= -p "$daemon_pid")" = facegate ] || fail "the daemon does not run as facegate"
# What facegate-backup.service runs, as its user into its directory, while the daemon serves.
setpriv --reuid facegate --regid facegate --init-groups -- /usr/bin/facegatectl store backup \
  /var/backups/facegate/facegate-test.db --config /etc/facegate/facegate.json \
  > "$work/backup.log" 2>&1 || { cat "$work/backup.log" >&2; fail "store backup as facegate"; }
[ "$(stat -c '%U' /var/backups/facegate/facegate-test.db)" = facegate ] || fail "backup owner"
kill "$daemon_pid"
wait "$daemon_pid" 2> /dev/null || true
daemon_pid=""

# Remove keeps the data and configuration; purge removes everything.
dpkg -r facegate > /dev/null
[ -e /var/lib/facegate/facegate.db ] || fail "remove deleted the data"
[ -e /etc/facegate/facegate.json ] || fail "remove deleted the configuration"
dpkg --purge facegate > /dev/null
installed=0
for p in /var/lib/facegate /etc/facegate /var/backups/facegate /usr/bin/facegated \
  /usr/share/facegate /lib/systemd/system/facegated.service /usr/sbin/facegate-install-host; do
  [ ! -e "$p" ] || fail "purge left $p"
done
getent passwd facegate > /dev/null && fail "purge left the facegate user"
getent group facegate > /dev/null && fail "purge left the facegate group"
echo "package test passed: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB), $(basename "$tools")"
