#!/usr/bin/env bash
# The tcp-tun demo: inside a network namespace made for the purpose, start apps/echo on a TUN
# device, then let the Linux kernel talk to it: ping, an echo of random data checked by sha256,
# and a burst of concurrent connections. Everything is deleted afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces and a TUN device): run it with sudo" >&2; exit 1; }

NS="tcptun-demo-$$"
ADDR=10.0.0.2
PEER=10.0.0.1
KPEER=apps/echo/src/__tests__/kpeer.py
APP_PID=""
cleanup() {
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$APP_PID" 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say() { printf '\033[1m%s\033[0m\n' "$*"; }
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }

say "1. namespace $NS with a TUN device: kernel $PEER <-> tcp-tun $ADDR"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
LOG=$(mktemp)
ip netns exec "$NS" node apps/echo/dist/main.js --dev tun0 --addr "$ADDR" --peer "$PEER" --port 7 >"$LOG" 2>&1 &
APP_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
grep "listening on" "$LOG" || { cat "$LOG"; exit 1; }

say "2. the kernel pings the user-space stack"
ip netns exec "$NS" ping -c 3 -i 0.2 -W 2 "$ADDR" | tail -2

say "3. a kernel TCP client echoes 16 MiB of random bytes through tcp-tun"
ip netns exec "$NS" python3 "$KPEER" echo "$ADDR" 7 16777216 1 | json \
  "f\"   sent {d['sent']} bytes, got back {d['received']} in {d['seconds']:.2f} s ({2*d['received']/d['seconds']/1e6:.1f} MB/s both ways)\\n   sha256 sent     {d['sha_sent']}\\n   sha256 received {d['sha_received']}\\n   identical: {d['identical']}\""

say "4. 50 concurrent kernel connections, 64 KiB each"
ip netns exec "$NS" python3 "$KPEER" many "$ADDR" 7 50 65536 | json \
  "f\"   {d['ok']}/{d['count']} intact in {d['seconds']:.2f} s\""

say "5. 100 sequential connections"
ip netns exec "$NS" python3 "$KPEER" seq "$ADDR" 7 100 | json \
  "f\"   {d['ok']}/{d['count']} succeeded in {d['seconds']:.2f} s ({d['count']/d['seconds']:.0f} connections/s)\""

say "6. a connect to a closed port"
ip netns exec "$NS" python3 "$KPEER" refused "$ADDR" 8081 | json \
  "f\"   {d['result']} after {d['seconds']*1000:.1f} ms\""

say "7. the stack's own view (SIGUSR1)"
kill -USR1 "$APP_PID"; sleep 0.3
grep '^{' "$LOG" | tail -1 | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); s=d['stats']; print('   ' + json.dumps(s)[:400])"
say "done: stopping apps/echo and deleting $NS"
