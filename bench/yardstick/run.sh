#!/bin/bash
# One fair run (bench/kbench.py: 8 connections reading for 3 s) against tun-source, in a network
# namespace made here and deleted on exit; prints kbench's MB/s and tun-source's own figures.
#   bench/yardstick/run.sh FAMILY [WINDOW [TRAIN_SEGS]]   (root; env SPINB, SPINR: the spins)
# Every address is inside the namespace (10.9.0.0/24, fd00:0:0:9::/64); the loop is bounded by
# kbench's 3 s and tun-source's exit after 1.5 s without packets.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
gcc -O2 -Wall -o "$tmp/tun-source" "$here/tun-source.c"
NS=tcptun-yard-$$
out=$tmp/out
ip netns add "$NS"
trap 'ip netns del "$NS"; rm -rf "$tmp"' EXIT
ip netns exec "$NS" "$tmp/tun-source" "$1" "${2:-262144}" "${3:-45}" "${SPINB:-0}" "${SPINR:-0}" >"$out" 2>"$out.err" &
pid=$!
for _ in $(seq 1 50); do grep -q ready "$out.err" 2>/dev/null && break; sleep 0.1; done
host=$([ "$1" = 4 ] && echo 10.9.0.2 || echo fd00:0:0:9::2)
r=$(timeout 30 ip netns exec "$NS" python3 "$here/../kbench.py" fair "$host" 19 8 3)
wait "$pid"
echo "$r" | grep -o '"MBps": [0-9.]*' | tr '\n' ' '
cat "$out"
