#!/usr/bin/env python3
"""Sends COUNT spoofed TCP SYNs to HOST:PORT through the kernel's routing (a raw socket with
IP_HDRINCL), from random sources in SRC_PREFIX.0.0/16. For tcp-tun's SYN-flood test only: it runs
inside the test's namespace, where those sources lead nowhere, and stops after COUNT packets.

  synflood.py HOST PORT COUNT [SRC_PREFIX=10.99]
"""
import json, random, socket, struct, sys, time


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def syn(src, dst, sport, dport, seq):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = struct.pack('!4s4sBBH', src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    return ip + tcp


def main(a):
    host, port, count = a[0], int(a[1]), int(a[2])
    prefix = a[3] if len(a) > 3 else '10.99'
    dst = socket.inet_aton(host)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    rng = random.Random(4987)
    start = time.monotonic()
    sent = 0
    for _ in range(count):
        src = socket.inet_aton('%s.%d.%d' % (prefix, rng.randrange(256), rng.randrange(1, 255)))
        pkt = syn(src, dst, rng.randrange(1024, 65536), port, rng.getrandbits(32))
        try:
            s.sendto(pkt, (host, 0))
            sent += 1
        except BlockingIOError:
            time.sleep(0.001)
        if time.monotonic() - start > 60:
            break
    print(json.dumps({'mode': 'synflood', 'sent': sent, 'seconds': time.monotonic() - start}), flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
