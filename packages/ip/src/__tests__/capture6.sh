#!/bin/bash
# Captures the IPv6 fixtures of fixtures6.ts (run as root; needs tshark, python3, iproute2).
# Three namespaces A -- R -- B, A-R MTU 1500, R-B MTU 1280; all deleted on exit.
# The hex lines (one packet each) land in $OUT/{a0,b0,lo}.hex; fixtures6.ts names them.
set -u
P=$$
A=ip6a$P; R=ip6r$P; B=ip6b$P
OUT=${OUT:-/tmp/ip6-capture-$P}; rm -rf $OUT; mkdir -p $OUT
cleanup() { for n in $A $R $B; do ip netns pids $n 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $n 2>/dev/null; done; }
trap cleanup EXIT
for n in $A $R $B; do ip netns add $n; ip -n $n link set lo up; done
ip link add a0 netns $A type veth peer name r0 netns $R
ip link add r1 netns $R type veth peer name b0 netns $B
ip -n $R link set r1 mtu 1280; ip -n $B link set b0 mtu 1280
ip netns exec $B sysctl -qw net.ipv6.ip6frag_time=2
ip netns exec $R sysctl -qw net.ipv6.conf.all.forwarding=1
# Capture the link coming up on A's side: router solicitation, DAD neighbour solicitation, MLDv2 reports.
ip -n $R addr add fd01::2/64 dev r0 nodad
ip -n $R addr add fd02::2/64 dev r1 nodad
ip -n $B addr add fd02::1/64 dev b0 nodad
ip -n $R link set r0 up; ip -n $R link set r1 up; ip -n $B link set b0 up
ip -n $A link set a0 up
ip netns exec $A tshark -q -F pcap -i a0 -w $OUT/a0.pcap -a duration:40 >/dev/null 2>&1 &
CAPA=$!
ip netns exec $B tshark -q -F pcap -i b0 -w $OUT/b0.pcap -a duration:40 >/dev/null 2>&1 &
CAPB=$!
ip netns exec $A tshark -q -F pcap -i lo -w $OUT/lo.pcap -a duration:40 >/dev/null 2>&1 &
CAPL=$!
sleep 2
ip -n $A addr add fd01::1/64 dev a0
sleep 4
ip -n $A -6 route add default via fd01::2
ip -n $B -6 route add default via fd02::2
ip -n $R -6 route add unreachable fd03::/64
ip -n $R -6 route add prohibit fd04::/64
echo "--- lo: ping ::1 and TCP to ::1"
ip netns exec $A ping -6 -c1 -W1 ::1 >/dev/null
ip netns exec $A ping -6 -c1 -W1 -Q 0xb9 ::1 >/dev/null  # LO_ECHO_REQUEST_TRAFFIC_CLASS
ip netns exec $A python3 -c '
import socket
s=socket.socket(socket.AF_INET6); s.bind(("::1",8080)); s.listen()
c=socket.create_connection(("::1",8080)); a,_=s.accept(); c.sendall(b"hello"); a.recv(5); c.close(); a.close()'
sleep 0.5
echo "--- echo A->B"
ip netns exec $A ping -6 -c1 -W2 fd02::1 >/dev/null
echo "--- TCP A->B"
ip netns exec $B python3 -c '
import socket
s=socket.socket(socket.AF_INET6); s.bind(("::",80)); s.listen(); a,_=s.accept(); a.recv(100); a.close()' &
sleep 0.5
ip netns exec $A python3 -c '
import socket
c=socket.create_connection(("fd02::1",80)); c.sendall(b"GET"); c.close()'
sleep 0.5
echo "--- time exceeded (hop limit 1)"
ip netns exec $A ping -6 -c1 -W1 -t 1 fd02::1 >/dev/null
echo "--- packet too big"
ip netns exec $A ping -6 -c1 -W1 -s 1400 -M do fd02::1 >/dev/null
echo "--- fragments (2000-octet ping)"
ip netns exec $A ping -6 -c1 -W2 -s 2000 fd02::1 >/dev/null
echo "--- unreachable: no route, prohibited, port, address"
ip netns exec $A ping -6 -c1 -W1 fd03::1 >/dev/null
ip netns exec $A ping -6 -c1 -W1 fd04::1 >/dev/null
ip netns exec $A python3 -c '
import socket
s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.sendto(b"x"*8, ("fd02::1", 9))'
ip netns exec $A ping -6 -c1 -W5 fd02::99 >/dev/null
echo "--- extension headers from A (hop-by-hop, destination options, routing) and unknown next header"
ip netns exec $A python3 -c '
import socket
s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# Hop-by-hop: PadN only (8 octets)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes([0,0,1,4,0,0,0,0]))
s.sendto(b"hbh-ok!!", ("fd02::1", 7))
s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# Destination options: unknown option 0x1e (action 00: skip) then Pad1s
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0,0,0x1e,2,0xab,0xcd,0,0]))
s.sendto(b"dst-skip", ("fd02::1", 7))
s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# Destination options: unknown option 0x9e (action 10: discard + parameter problem code 2)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0,0,0x9e,2,0xab,0xcd,1,0]))
s.sendto(b"dst-pp2!", ("fd02::1", 7))
# Unknown next header 253 (RFC 3692 experimental): parameter problem code 1
r=socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253)
r.sendto(b"experiment", ("fd02::1", 0))
' || echo "ext send failed"
sleep 1
echo "--- first fragment alone (reassembly timeout 2 s in B): time exceeded code 1"
ip netns exec $A python3 -c '
import socket, struct
# Only the first of two fragments of a UDP datagram, built by hand, sent through a raw socket.
src=socket.inet_pton(socket.AF_INET6,"fd01::1"); dst=socket.inet_pton(socket.AF_INET6,"fd02::1")
payload=bytes(range(48))
frag=struct.pack("!BBHI",17,0,(0<<3)|1,0x12345678)
udp=struct.pack("!HHHH",4000,7,8+96,0)+payload
pkt=struct.pack("!IHBB",0x60000000,len(frag)+len(udp),44,64)+src+dst+frag+udp
r=socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.sendto(pkt,("fd02::1",0))
'
sleep 4
echo "--- routing header type 0 crafted through a raw socket"
ip netns exec $A python3 -c '
import socket, struct
src=socket.inet_pton(socket.AF_INET6,"fd01::1"); dst=socket.inet_pton(socket.AF_INET6,"fd02::1")
rh=bytes([17,2,0,1,0,0,0,0])+socket.inet_pton(socket.AF_INET6,"fd02::2")
udp=struct.pack("!HHHH",4000,7,16,0)+b"rthdr-t0"
pkt=struct.pack("!IHBB",0x60000000,len(rh)+len(udp),43,64)+src+dst+rh+udp
r=socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.sendto(pkt,("fd02::1",0))
rh=bytes([17,2,253,1,0,0,0,0])+socket.inet_pton(socket.AF_INET6,"fd02::2")
pkt=struct.pack("!IHBB",0x60000000,len(rh)+len(udp),43,64)+src+dst+rh+udp
r.sendto(pkt,("fd02::1",0))
'
sleep 2
kill -INT $CAPA $CAPB $CAPL 2>/dev/null
wait $CAPA $CAPB $CAPL 2>/dev/null
for f in a0 b0 lo; do python3 "$(dirname "$0")/pcap2hex6.py" $OUT/$f.pcap > $OUT/$f.hex; echo "$f: $(wc -l < $OUT/$f.hex) packets"; done
