#!/usr/bin/env python3
"""Kernel-side workloads for `pnpm bench`: the Linux TCP stack drives the stack under test.

Each client mode prints one JSON line; every loop is bounded by a deadline.

  send HOST PORT BYTES          stream BYTES to a discard service, half-close, wait for its close
  recv HOST PORT BYTES          read BYTES from a source service, then close
  rr HOST PORT COUNT SIZE       COUNT request/response round trips of SIZE bytes (echo service)
  conn HOST PORT COUNT          COUNT sequential connect + 1-byte echo + close; also the rate of the
                                first 500 (cold_per_s) and of the last 500 (warm_per_s)
  fair HOST PORT COUNT SECONDS  COUNT concurrent connections read from a source service for
                                SECONDS; per-connection MB/s, slowest and fastest
  many HOST PORT COUNT BYTES    COUNT concurrent connections, each echoes BYTES (sha256 checked)
  idle HOST PORT COUNT HOLD_S   open COUNT connections at once, hold them HOLD_S, close them
  serve [-6]                    kernel echo (7), discard (9) and source (19) servers, for the
                                kernel-to-kernel baseline, on 0.0.0.0 (on :: with -6, IPv6 only);
                                runs until killed

HOST is an IPv4 or an IPv6 literal (fd00:b::2, no brackets); its form picks the family.
"""
import hashlib, json, os, selectors, socket, sys, threading, time

LIMIT_S = 300
BLOCK = hashlib.sha512(b'tcp-tun bench').digest() * 1024  # 64 KiB of fixed bytes


def emit(**fields):
    print(json.dumps(fields), flush=True)


def family_of(host):
    """AF_INET6 for an IPv6 literal (it has a colon), else AF_INET."""
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def dial(host, port, timeout=30):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def pattern(n):
    reps, rest = divmod(n, len(BLOCK))
    return BLOCK * reps + BLOCK[:rest]


def do_send(host, port, total):
    view = memoryview(BLOCK)
    s = dial(host, port)
    start = time.perf_counter()
    left = total
    while left > 0:
        left -= s.send(view[:min(left, len(BLOCK))])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    took = time.perf_counter() - start
    emit(mode='send', bytes=total, seconds=took, MBps=total / took / 1e6)


def do_recv(host, port, total):
    s = dial(host, port)
    start = time.perf_counter()
    got = 0
    buf = bytearray(1 << 20)
    while got < total:
        n = s.recv_into(buf, min(len(buf), total - got))
        if n == 0:
            break
        got += n
    took = time.perf_counter() - start
    s.close()
    emit(mode='recv', bytes=got, seconds=took, MBps=got / took / 1e6, ok=got == total)


def do_rr(host, port, count, size):
    msg = b'r' * size
    s = dial(host, port)
    start = time.perf_counter()
    for _ in range(count):
        s.sendall(msg)
        got = 0
        while got < size:
            b = s.recv(size - got)
            if not b:
                raise SystemExit('peer closed during rr')
            got += len(b)
    took = time.perf_counter() - start
    s.close()
    emit(mode='rr', count=count, size=size, seconds=took, per_s=count / took)


COLD = 500


def do_conn(host, port, count):
    ok = 0
    start = time.perf_counter()
    marks = []  # time after each connection, for the cold (first 500) and warm (last 500) rates
    for _ in range(count):
        s = dial(host, port, timeout=10)
        s.sendall(b'!')
        if s.recv(1) == b'!':
            ok += 1
        s.close()
        marks.append(time.perf_counter())
    took = time.perf_counter() - start
    n = min(COLD, count)
    cold = n / (marks[n - 1] - start)
    warm = None
    if count >= 2 * COLD:
        warm = COLD / (marks[-1] - marks[-COLD - 1])
    emit(mode='conn', count=count, ok=ok, seconds=took, per_s=count / took, cold_per_s=cold, warm_per_s=warm,
         cold_ratio=None if warm is None else cold / warm)


def do_fair(host, port, count, seconds):
    sel = selectors.DefaultSelector()
    got = {}
    for _ in range(count):
        s = socket.socket(family_of(host))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        got[s] = 0
        sel.register(s, selectors.EVENT_READ)
    buf = bytearray(1 << 16)
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for key, _ in sel.select(0.2):
            try:
                n = key.fileobj.recv_into(buf)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                n = 0
            if n == 0:
                sel.unregister(key.fileobj)
            got[key.fileobj] += n
    took = time.perf_counter() - start
    for s in got:
        s.close()
    rates = sorted(v / took / 1e6 for v in got.values())
    emit(mode='fair', count=count, seconds=took, MBps=sum(rates), slowest_MBps=rates[0], fastest_MBps=rates[-1],
         spread=rates[-1] / rates[0] if rates[0] > 0 else None, ok=rates[0] > 0)


def do_many(host, port, count, size):
    data = pattern(size)
    want = hashlib.sha256(data).hexdigest()
    start = time.perf_counter()
    sel = selectors.DefaultSelector()
    state = {}
    for _ in range(count):
        s = socket.socket(family_of(host))
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        state[s] = [0, 0, hashlib.sha256()]
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    finished = 0
    deadline = start + LIMIT_S
    while finished < count and time.perf_counter() < deadline:
        for key, ev in sel.select(1):
            s = key.fileobj
            v = state[s]
            if ev & selectors.EVENT_WRITE and v[0] < size:
                try:
                    v[0] += s.send(data[v[0]:v[0] + 65536])
                except (BlockingIOError, ConnectionError):
                    pass
                if v[0] >= size:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    b = b''
                if b:
                    v[2].update(b)
                    v[1] += len(b)
                if not b or v[1] >= size:
                    sel.unregister(s)
                    finished += 1
    took = time.perf_counter() - start
    intact = sum(1 for v in state.values() if v[1] == size and v[2].hexdigest() == want)
    for s in state:
        s.close()
    emit(mode='many', count=count, bytes_each=size, seconds=took, intact=intact, ok=intact == count)


def do_idle(host, port, count, hold):
    start = time.perf_counter()
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(count):
        s = socket.socket(family_of(host))
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    pending = count
    deadline = start + LIMIT_S
    while pending and time.perf_counter() < deadline:
        for key, _ in sel.select(1):
            sel.unregister(key.fileobj)
            pending -= 1
    took = time.perf_counter() - start
    connected = sum(1 for s in socks if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    emit(mode='idle', phase='open', count=count, connected=connected, seconds=took, per_s=count / took)
    time.sleep(hold)
    for s in socks:
        s.close()
    emit(mode='idle', phase='closed', count=count)


def serve(ipv6=False):
    def listener(port):
        ls = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if ipv6:
            # The IPv6 baseline measures IPv6 only.
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        ls.bind(('::' if ipv6 else '0.0.0.0', port))
        ls.listen(4096)
        return ls

    def echo(c):
        with c:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                c.sendall(b)

    def discard(c):
        with c:
            while c.recv(1 << 20):
                pass

    def source(c):
        with c:
            try:
                while True:
                    c.sendall(BLOCK)
            except OSError:
                pass

    def loop(port, handler):
        ls = listener(port)
        while True:
            c, _ = ls.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    for port, handler in ((7, echo), (9, discard), (19, source)):
        threading.Thread(target=loop, args=(port, handler), daemon=True).start()
    emit(mode='serve', ready=True)
    time.sleep(LIMIT_S * 10)


def main(a):
    if not a:
        raise SystemExit(__doc__)
    mode = a[0]
    if mode == 'send':
        do_send(a[1], a[2], int(a[3]))
    elif mode == 'recv':
        do_recv(a[1], a[2], int(a[3]))
    elif mode == 'rr':
        do_rr(a[1], a[2], int(a[3]), int(a[4]))
    elif mode == 'conn':
        do_conn(a[1], a[2], int(a[3]))
    elif mode == 'fair':
        do_fair(a[1], a[2], int(a[3]), float(a[4]))
    elif mode == 'many':
        do_many(a[1], a[2], int(a[3]), int(a[4]))
    elif mode == 'idle':
        do_idle(a[1], a[2], int(a[3]), float(a[4]))
    elif mode == 'serve':
        serve(ipv6=a[1:2] == ['-6'])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
