#!/usr/bin/env bash
# scripts/install-host --firewall, tested where it cannot hurt: inside two network namespaces
# this test creates (a "server" with the rules, and a "lan" with a terminal's, an admin's and
# a stranger's addresses on one veth link), never on this machine's own tables (which would
# cut the package registries off). Real nftables, real TCP and UDP.
#
# Checks: a dry run changes nothing; the rules load; what a terminal, an admin and anybody
# else can reach (device port and NTP; admin port and SSH; nothing); what the server may
# reach (MQTT 8883 anywhere, the SHIP port on the Space server only, nothing else); loading
# twice is the same as once; --undo removes the table, the include and the file; usage
# errors exit 2. Needs root, ip (iproute2), nft (nftables) and python3; exits 77 (skipped)
# without them or where namespaces cannot be created.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
script="$root_dir/scripts/install-host"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
failures=0
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for c in ip nft python3; do command -v "$c" > /dev/null || skip "no $c"; done

id="$$"
srv="fgfw-s-$id" lan="fgfw-l-$id"
work="$(mktemp -d /tmp/facegate-fw.XXXXXX)"
pids=()
cleanup() {
  local ns p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2> /dev/null || true; done
  # Whatever still runs inside the namespaces (ip netns exec may fork) goes with them.
  for ns in "$srv" "$lan"; do
    for p in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$p" 2> /dev/null || true; done
  done
  ip netns del "$srv" 2> /dev/null || true
  ip netns del "$lan" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$srv" 2> /dev/null || skip "cannot create a network namespace here"
ip netns add "$lan"
ip link add "fgs$id" type veth peer name "fgl$id"
ip link set "fgs$id" netns "$srv"
ip link set "fgl$id" netns "$lan"
in_srv() { ip netns exec "$srv" "$@"; }
in_lan() { ip netns exec "$lan" "$@"; }
in_srv ip link set lo up
in_lan ip link set lo up
in_srv ip addr add 10.213.0.1/24 dev "fgs$id"
in_srv ip link set "fgs$id" up
# On the lan: a terminal (in 10.213.0.0/27), an admin (in 10.213.0.48/28), a stranger (.200)
# and the Space server (.100, not in the terminals' subnet).
for a in 10 50 100 200; do in_lan ip addr add "10.213.0.$a/24" dev "fgl$id"; done
in_lan ip link set "fgl$id" up
terminal=10.213.0.10 admin=10.213.0.50 space=10.213.0.100 stranger=10.213.0.200 server=10.213.0.1

# Listeners: TCP answers "ok", UDP echoes. Each namespace gets one Python process.
cat > "$work/listen.py" <<'EOF'
import socket, sys, threading
ready, ports = sys.argv[1], sys.argv[2:]
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok\n"); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(512); s.sendto(data, peer)
for p in ports:
    proto, port = p.split("/")
    threading.Thread(target=tcp if proto == "tcp" else udp, args=(int(port),), daemon=True).start()
import time; time.sleep(0.3); open(ready, "w").write("ready\n")
time.sleep(600)
EOF
# reach.py SOURCE DEST PROTO PORT: exit 0 when answered within 2 s.
cat > "$work/reach.py" <<'EOF'
import socket, sys
src, dst, proto, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    if proto == "tcp":
        s = socket.socket(); s.settimeout(2); s.bind((src, 0)); s.connect((dst, port))
        sys.exit(0 if s.recv(3) == b"ok\n" else 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.bind((src, 0))
    s.sendto(b"ping", (dst, port)); sys.exit(0 if s.recvfrom(512)[0] == b"ping" else 1)
except OSError:
    sys.exit(1)
EOF
in_srv python3 "$work/listen.py" "$work/srv.ready" tcp/443 tcp/8444 tcp/22 tcp/9999 udp/123 udp/5353 &
pids+=($!)
in_lan python3 "$work/listen.py" "$work/lan.ready" tcp/8883 tcp/9443 tcp/7777 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/srv.ready" ] && [ -s "$work/lan.ready" ] && break; sleep 0.1; done
if ! [ -s "$work/srv.ready" ] || ! [ -s "$work/lan.ready" ]; then
  echo "listeners did not start" >&2
  exit 1
fi

expect() {  # open|closed FROM-NS SOURCE DEST PROTO PORT
  local want="$1" ns="$2" src="$3" dst="$4" proto="$5" port="$6" got
  if ip netns exec "$ns" python3 "$work/reach.py" "$src" "$dst" "$proto" "$port"; then
    got=open
  else
    got=closed
  fi
  [ "$got" = "$want" ] || fail "$src -> $dst $proto/$port: $got, expected $want"
}

args=(--firewall --terminals 10.213.0.0/27 --management 10.213.0.48/28 --ship "$space:9443"
      --device-port 443 --admin-port 8444 --ssh-port 22 --root "$work/root"
      --config /nonexistent)

# Before any rules everything is open (the listeners work), and a dry run changes nothing.
expect open "$lan" "$stranger" "$server" tcp 9999
out="$(in_srv "$script" "${args[@]}" --dry-run 2>&1)"
grep -q "would write $work/root/etc/facegate/firewall.nft" <<< "$out" || fail "dry run: $out"
grep -q "tcp dport 443 accept" <<< "$out" || fail "dry run shows no ruleset"
[ -z "$(in_srv nft list tables)" ] || fail "the dry run loaded rules"
[ ! -e "$work/root/etc/facegate/firewall.nft" ] || fail "the dry run wrote the ruleset"

in_srv "$script" "${args[@]}" || fail "install-host --firewall failed"
in_srv nft list table inet facegate > "$work/first.txt" || fail "no table inet facegate"
grep -qxF 'include "/etc/facegate/firewall.nft"' "$work/root/etc/nftables.conf" ||
  fail "nftables.conf does not include the ruleset"

# Inbound.
expect open "$lan" "$terminal" "$server" tcp 443
expect open "$lan" "$terminal" "$server" udp 123
expect closed "$lan" "$terminal" "$server" tcp 8444
expect closed "$lan" "$terminal" "$server" tcp 22
expect closed "$lan" "$terminal" "$server" udp 5353
expect open "$lan" "$admin" "$server" tcp 8444
expect open "$lan" "$admin" "$server" tcp 22
expect closed "$lan" "$admin" "$server" tcp 443
expect closed "$lan" "$admin" "$server" udp 123
for port in 443 8444 22 9999; do expect closed "$lan" "$stranger" "$server" tcp "$port"; done
expect closed "$lan" "$stranger" "$server" udp 123
# Outbound.
expect open "$srv" "$server" "$stranger" tcp 8883
expect open "$srv" "$server" "$space" tcp 9443
expect closed "$srv" "$server" "$stranger" tcp 9443
expect closed "$srv" "$server" "$space" tcp 7777
# The drops are counted.
in_srv nft list table inet facegate | grep -q "counter packets [1-9]" || fail "no drop counted"

# Twice is once: the same rules, one include line.
in_srv "$script" "${args[@]}" || fail "second install-host --firewall failed"
in_srv nft list table inet facegate | sed 's/counter packets [0-9]* bytes [0-9]*/counter/' > "$work/second.txt"
sed 's/counter packets [0-9]* bytes [0-9]*/counter/' "$work/first.txt" > "$work/first-norm.txt"
diff -u "$work/first-norm.txt" "$work/second.txt" > /dev/null || fail "a second run changed the rules"
[ "$(grep -cxF 'include "/etc/facegate/firewall.nft"' "$work/root/etc/nftables.conf")" = 1 ] ||
  fail "a second run added a second include"
expect open "$lan" "$terminal" "$server" tcp 443

# Usage errors change nothing.
set +e
in_srv "$script" --firewall --terminals 10.213.0.0/27 --root "$work/root" > "$work/u1.log" 2>&1
[ $? -eq 2 ] || fail "--firewall without --management: not exit 2"
grep -q "management" "$work/u1.log" || fail "the usage error does not name --management"
in_srv "$script" --firewall --terminals 10.213.0.0/33 --management 10.0.0.0/8 \
  --root "$work/root" > "$work/u2.log" 2>&1
[ $? -eq 2 ] || fail "a bad CIDR: not exit 2"
in_srv "$script" "${args[@]}" --device-port 70000 > "$work/u3.log" 2>&1
[ $? -eq 2 ] || fail "a bad port: not exit 2"
set -e
in_srv nft list table inet facegate > /dev/null || fail "a usage error removed the table"

# Undo: table, include and file gone; everything reachable again.
in_srv "$script" --undo --firewall --root "$work/root" || fail "install-host --undo failed"
in_srv nft list table inet facegate > /dev/null 2>&1 && fail "the table is still loaded"
grep -qF 'facegate' "$work/root/etc/nftables.conf" && fail "nftables.conf still includes it"
[ ! -e "$work/root/etc/facegate/firewall.nft" ] || fail "the ruleset file is still there"
expect open "$lan" "$stranger" "$server" tcp 9999

# --time writes chrony's drop-in for the terminals.
in_srv "$script" --time --terminals 10.213.0.0/27 --root "$work/root" || fail "--time failed"
chrony="$work/root/etc/chrony/conf.d/facegate.conf"
grep -qx "allow 10.213.0.0/27" "$chrony" || fail "chrony does not serve the terminals"
grep -qx "server time.cloudflare.com iburst" "$chrony" || fail "chrony has no upstream"
# chrony itself reads the drop-in: the installed chronyd, or the one of Debian's package
# (downloaded and unpacked here, never installed: it would start and set this machine's clock).
chronyd="$(command -v chronyd || true)"
if [ -z "$chronyd" ] && command -v apt-get > /dev/null; then
  mkdir -p "$work/chrony"
  if (cd "$work/chrony" && timeout 120 apt-get download -q chrony > /dev/null 2>&1); then
    dpkg-deb -x "$work"/chrony/chrony_*.deb "$work/chrony/root" && chronyd="$work/chrony/root/usr/sbin/chronyd"
  fi
fi
if [ -n "$chronyd" ] && [ -x "$chronyd" ]; then
  "$chronyd" -p -f "$chrony" > "$work/chrony.log" 2>&1 || { cat "$work/chrony.log" >&2; fail "chronyd rejects the drop-in"; }
else
  echo "note: no chronyd here (nor Debian's package): the drop-in's syntax was not checked by chrony"
fi
in_srv "$script" --undo --time --root "$work/root" || fail "--undo --time failed"
[ ! -e "$chrony" ] || fail "chrony's drop-in is still there"

if [ "$failures" -gt 0 ]; then
  echo "$failures checks failed" >&2
  exit 1
fi
echo "firewall: all checks passed"
