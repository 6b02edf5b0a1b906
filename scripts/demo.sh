#!/usr/bin/env bash
# The tcp-tun demo. Inside a network namespace made for the purpose:
#   1. apps/echo (echo + http services) on TUN tun0: the kernel is 10.0.0.1, tcp-tun is 10.0.0.2;
#   2. the kernel pings tcp-tun, echoes random data through it, and fetches pages with curl;
#   3. apps/curl-lite (tcp-tun as the client, on tun1) downloads from a kernel HTTP server.
# Every transfer is checked by sha256. The namespace and every process are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces and TUN devices): run it with sudo" >&2; exit 1; }

NS="tcptun-demo-$$"
ADDR=10.0.0.2 PEER=10.0.0.1        # apps/echo's device
CADDR=10.0.1.2 CPEER=10.0.1.1      # curl-lite's device
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
sha() { sha256sum "$1" | cut -c1-16; }
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; cat "$1"; return 1; }

step "namespace $NS; apps/echo on tun0 (kernel $PEER <-> tcp-tun $ADDR)"
ip netns add "$NS"
in_ns ip link set lo up
ip netns exec "$NS" node apps/echo/dist/main.js --dev tun0 --addr "$ADDR" --peer "$PEER" --services echo,http >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
ECHO_PID=$!
wait_for "$WORK/echo.log" "listening on"
sed 's/^/   /' "$WORK/echo.log"

step "kernel ping -> tcp-tun"
in_ns ping -c 3 -i 0.2 -W 2 "$ADDR" | tail -2 | sed 's/^/   /'

step "kernel TCP client echoes 16 MiB of random bytes through tcp-tun"
in_ns python3 testing/kpeer.py echo "$ADDR" 7 16777216 1 | json \
  "f\"   {d['sent']} bytes sent, {d['received']} echoed back in {d['seconds']:.2f} s ({2*d['received']/d['seconds']/1e6:.1f} MB/s both ways)\\n   sha256 sent {d['sha_sent'][:16]}  received {d['sha_received'][:16]}  match: {d['identical']}\""

step "kernel TCP clients: 50 concurrent x 64 KiB, then 100 sequential connections"
in_ns python3 testing/kpeer.py many "$ADDR" 7 50 65536 | json "f\"   {d['ok']}/{d['count']} concurrent echoes intact in {d['seconds']:.2f} s\""
in_ns python3 testing/kpeer.py seq "$ADDR" 7 100 | json "f\"   {d['ok']}/{d['count']} sequential connections in {d['seconds']:.2f} s ({d['count']/d['seconds']:.0f}/s)\""

step "kernel curl fetches from Node's http server running on tcp-tun"
in_ns curl -sS "http://$ADDR/" | grep -o '<h1>.*</h1>' | sed 's/^/   /'
in_ns curl -sS -o "$WORK/bytes.bin" -w "   GET /bytes/16777216: HTTP %{http_code}, %{size_download} bytes in %{time_total} s (%{speed_download} B/s)\n" "http://$ADDR/bytes/16777216"
python3 -c "
import hashlib,sys
block=bytes(i % 251 for i in range(251*4096)); h=hashlib.sha256(); n=16777216
while n>0: h.update(block[:min(n,len(block))]); n-=len(block)
got=hashlib.sha256(open('$WORK/bytes.bin','rb').read()).hexdigest()
print(f'   sha256 expected {h.hexdigest()[:16]}  received {got[:16]}  match: {got==h.hexdigest()}')"
in_ns curl -sS -o /dev/null -w "   GET /redirect?to=/: HTTP %{http_code} -> %{redirect_url}\n" "http://$ADDR/redirect?to=/"

step "curl-lite (tcp-tun as the client, on tun1) downloads 16 MiB from a kernel HTTP server"
head -c 16777216 /dev/urandom >"$WORK/served.bin"
ip netns exec "$NS" node testing/kserver.mjs 8000 "$WORK/served.bin" >"$WORK/kserver.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/kserver.log" ready
start=$(date +%s.%N)
in_ns node apps/curl-lite/dist/main.js --dev tun1 --addr "$CADDR" --peer "$CPEER" -s -L -o "$WORK/got.bin" "http://$CPEER:8000/redirect?to=/file"
end=$(date +%s.%N)
python3 -c "
import hashlib
a=hashlib.sha256(open('$WORK/served.bin','rb').read()).hexdigest(); b=hashlib.sha256(open('$WORK/got.bin','rb').read()).hexdigest()
n=len(open('$WORK/got.bin','rb').read()); t=$end-$start
print(f'   {n} bytes via a redirect in {t:.2f} s ({n/t/1e6:.1f} MB/s, including TUN set-up)')
print(f'   sha256 served {a[:16]}  received {b[:16]}  match: {a==b}')"

step "tcp-tun's own view of apps/echo (SIGUSR1)"
kill -USR1 "$ECHO_PID"; sleep 0.3
grep '^{' "$WORK/echo.log" | tail -1 | python3 -c "
import json,sys; d=json.loads(sys.stdin.read()); s=d['stats']
print('   ' + json.dumps({k: v for k, v in s.items() if not isinstance(v, dict)})[:300])
print(f\"   open connections: {len(d['connections'])}\")"

step "done: stopping everything and deleting $NS"
