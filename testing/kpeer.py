#!/usr/bin/env python3
"""Kernel-side peer for tcp-tun's end-to-end tests: the Linux TCP stack drives our stack.

Runs inside the test's network namespace and prints one JSON line. Every mode is bounded in
time (socket timeouts and deadlines) so a broken stack fails the test instead of hanging it.

  kpeer.py [-4|-6] MODE ARGS...
                                 -4/-6 choose the address family, as curl's flags: clients
                                 resolve HOST in it only (an IPv6 literal such as fd00::2 works
                                 without -6), listeners bind 0.0.0.0 (-4, the default) or ::
                                 (-6, which also accepts IPv4 peers as ::ffff:a.b.c.d)

  echo HOST PORT BYTES SEED [DEADLINE_S]
                                 send BYTES random bytes, read them back, compare (within
                                 DEADLINE_S seconds, default 120)
  many HOST PORT COUNT BYTES     COUNT concurrent connections, each echoes BYTES
  seq HOST PORT COUNT            COUNT sequential connect + 1 KiB echo + close
  refused HOST PORT              time a connect that should be refused
  closewait HOST PORT            connect, echo a little, close; then watch our side's state
  serve PORT BYTES SEED          accept one connection, send BYTES while reading until EOF;
                                 report what was read (for the stack-as-client test)
  zerowindow HOST PORT FIRST PAUSE_S THEN
                                 connect with a small receive buffer (to a sending service),
                                 read FIRST bytes, print {"phase": "paused"}, stop reading for
                                 PAUSE_S seconds (the kernel's window closes), then read THEN
                                 bytes and print {"phase": "resumed"} with how long that took
  delayed PORT DELAY_S BYTES     accept one connection, read the request until EOF (the
                                 client's FIN), wait DELAY_S seconds, answer BYTES (byte i =
                                 i % 251), close; report what it read and whether the close
                                 completed (the peer's FIN came back)
  churn HOST PORT COUNT SECONDS SRC[,SRC...]
                                 COUNT connections, split over one process per source address,
                                 each: connect, "GET /bytes/1" with Connection: close, read to
                                 EOF (the server closes first), close; stops at SECONDS; reports
                                 ok, errors, timeouts and connects slower than 0.9 s (a dropped
                                 SYN is retried after 1 s)
"""
import hashlib, json, os, random, selectors, socket, subprocess, sys, threading, time

DEADLINE_S = 120
# Set by -4/-6 (main): AF_UNSPEC lets a client's HOST decide; listeners then use IPv4.
FAMILY = socket.AF_UNSPEC


def out(**kw):
    print(json.dumps(kw), flush=True)


def data_for(n, seed):
    return random.Random(seed).randbytes(n)


def family_of(host):
    """The family to use for HOST: -4/-6 when given, else the one its literal is written in."""
    if FAMILY != socket.AF_UNSPEC:
        return FAMILY
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def address_of(host, port):
    """HOST resolved in the chosen family (a literal of the other family fails, as curl's -4/-6)."""
    return socket.getaddrinfo(host, int(port), family_of(host), socket.SOCK_STREAM)[0][4]


def new_socket(host):
    return socket.socket(family_of(host), socket.SOCK_STREAM)


def connect(host, port, timeout=10):
    s = new_socket(host)
    s.settimeout(timeout)
    try:
        s.connect(address_of(host, port))
    except BaseException:
        s.close()
        raise
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def listener(port):
    """A listening socket on every address of the chosen family (0.0.0.0, or :: with -6)."""
    if FAMILY == socket.AF_INET6:
        ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        # Linux's default, stated: IPv4 peers too, as ::ffff:a.b.c.d.
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        where = ('::', port)
    else:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        where = ('0.0.0.0', port)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(where)
    ls.listen(1)
    return ls


def echo_once(host, port, data, deadline_s=DEADLINE_S):
    """Full-duplex echo of `data` on one connection; returns the bytes read back."""
    s = connect(host, port)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, got, shut = 0, bytearray(), False
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        events = sel.select(1)
        done = False
        for _, ev in events:
            if ev & selectors.EVENT_WRITE and sent < len(data):
                try:
                    sent += s.send(data[sent:sent + (1 << 18)])
                except BlockingIOError:
                    pass
                if sent >= len(data) and not shut:
                    s.shutdown(socket.SHUT_WR)
                    shut = True
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not b:
                    done = True
                    break
                got += b
        if done:
            break
    s.close()
    return bytes(got)


def main(a):
    global FAMILY
    while a and a[0] in ('-4', '-6'):
        FAMILY = socket.AF_INET if a[0] == '-4' else socket.AF_INET6
        a = a[1:]
    if not a:
        sys.exit('usage: kpeer.py [-4|-6] MODE ARGS...')
    mode = a[0]
    if mode == 'echo':
        host, port, n, seed = a[1], a[2], int(a[3]), int(a[4])
        deadline = float(a[5]) if len(a) > 5 else DEADLINE_S
        data = data_for(n, seed)
        t = time.monotonic()
        got = echo_once(host, port, data, deadline)
        dt = time.monotonic() - t
        out(mode=mode, sent=n, received=len(got), identical=got == data, seconds=dt,
            sha_sent=hashlib.sha256(data).hexdigest(), sha_received=hashlib.sha256(got).hexdigest())
    elif mode == 'many':
        host, port, count, n = a[1], a[2], int(a[3]), int(a[4])
        results = [None] * count

        def one(i):
            data = data_for(n, 1000 + i)
            try:
                results[i] = echo_once(host, port, data, 60) == data
            except Exception as e:  # noqa: BLE001 - reported as a failure in the JSON line
                results[i] = repr(e)
        t = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(90)
        out(mode=mode, count=count, ok=sum(1 for r in results if r is True),
            failures=[r for r in results if r is not True][:5], seconds=time.monotonic() - t)
    elif mode == 'seq':
        host, port, count = a[1], a[2], int(a[3])
        ok, errors = 0, []
        t = time.monotonic()
        for i in range(count):
            data = data_for(1024, i)
            try:
                if echo_once(host, port, data, 10) == data:
                    ok += 1
                else:
                    errors.append(f'conn {i}: mismatch')
            except Exception as e:  # noqa: BLE001
                errors.append(f'conn {i}: {e!r}')
        out(mode=mode, count=count, ok=ok, errors=errors[:5], seconds=time.monotonic() - t)
    elif mode == 'options':
        # Connects, moves a little data, and reports the kernel's own view of the connection
        # (`ss -ti`): which options it negotiated with the stack.
        host, port = a[1], a[2]
        s = connect(host, port)
        s.sendall(b'x' * 4096)
        got = 0
        while got < 4096:
            b = s.recv(4096 - got)
            if not b:
                break
            got += len(b)
        local = s.getsockname()
        info = subprocess.run(['ss', '-tinoH', 'sport', '=', f':{local[1]}'], capture_output=True, text=True).stdout
        s.close()
        out(mode=mode, echoed=got, ss=' '.join(info.split()))
    elif mode == 'refused':
        host, port = a[1], a[2]
        t = time.monotonic()
        try:
            connect(host, port, timeout=5).close()
            result = 'connected'
        except ConnectionRefusedError:
            result = 'refused'
        except socket.timeout:
            result = 'timeout'
        except OSError as e:
            result = f'oserror {e.errno}'
        out(mode=mode, result=result, seconds=time.monotonic() - t)
    elif mode == 'closewait':
        host, port = a[1], a[2]
        s = connect(host, port)
        local = s.getsockname()
        s.sendall(b'hello')
        got = s.recv(16)
        s.close()
        # Poll the kernel's view of this connection: it must leave FIN-WAIT-2 promptly,
        # which only happens when our FIN arrives.
        t = time.monotonic()
        states = []
        while time.monotonic() - t < 5:
            ss = subprocess.run(['ss', '-tanH', 'sport', '=', f':{local[1]}'],
                                capture_output=True, text=True).stdout.split()
            state = ss[0] if ss else 'GONE'
            if not states or states[-1] != state:
                states.append(state)
            if state in ('TIME-WAIT', 'GONE'):
                break
            time.sleep(0.01)
        out(mode=mode, echoed=got == b'hello', states=states, seconds=time.monotonic() - t)
    elif mode == 'serve':
        port, n, seed = int(a[1]), int(a[2]), int(a[3])
        data = data_for(n, seed)
        ls = listener(port)
        ls.settimeout(30)
        print(json.dumps({'mode': 'serve', 'ready': True}), flush=True)
        conn, _ = ls.accept()
        conn.settimeout(DEADLINE_S)
        h = hashlib.sha256()
        count = [0]

        def reader():
            while True:
                b = conn.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                count[0] += len(b)
        th = threading.Thread(target=reader)
        th.start()
        t = time.monotonic()
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        th.join(DEADLINE_S)
        out(mode=mode, sent=n, sha_sent=hashlib.sha256(data).hexdigest(), received=count[0],
            sha_received=h.hexdigest(), seconds=time.monotonic() - t)
        conn.close()
    elif mode == 'zerowindow':
        host, port, first, pause, then = a[1], int(a[2]), int(a[3]), float(a[4]), int(a[5])
        s = new_socket(host)
        # Small, so it fills at once and the kernel advertises a zero window.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        s.settimeout(10)
        s.connect(address_of(host, port))

        def read(n):
            got, start = 0, time.monotonic()
            while got < n:
                b = s.recv(min(1 << 16, n - got))
                if not b:
                    break
                got += len(b)
            return got, time.monotonic() - start
        got1, dt1 = read(first)
        # Let the receive queue fill completely before announcing the pause.
        time.sleep(0.5)
        out(mode=mode, phase='paused', read=got1, seconds=dt1, local_port=s.getsockname()[1])
        time.sleep(pause)
        got2, dt2 = read(then)
        out(mode=mode, phase='resumed', read=got2, seconds=dt2)
        s.close()
    elif mode == 'delayed':
        port, delay, n = int(a[1]), float(a[2]), int(a[3])
        ls = listener(port)
        ls.settimeout(30)
        out(mode=mode, ready=True)
        conn, _ = ls.accept()
        conn.settimeout(delay + 60)
        request = bytearray()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            request += b
        t = time.monotonic()
        time.sleep(delay)
        answer = bytes(i % 251 for i in range(n))
        error = None
        try:
            conn.sendall(answer)
            conn.shutdown(socket.SHUT_WR)
            # The client closes its side after reading: our recv sees EOF, not a reset.
            tail = conn.recv(1)
            closed = tail == b''
        except OSError as e:
            closed, error = False, repr(e)
        out(mode=mode, request=request.decode('latin1'), answered=n, waited=time.monotonic() - t,
            closed_cleanly=closed, error=error)
        conn.close()
    elif mode == 'churn':
        host, port, count, seconds = a[1], int(a[2]), int(a[3]), float(a[4])
        sources = a[5].split(',')
        end = time.monotonic() + seconds
        authority = f'[{host}]' if ':' in host else host  # RFC 3986 §3.2.2
        request = f'GET /bytes/1 HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n'.encode()

        def worker(src, n, q):
            ok = errors = timeouts = slow = 0
            first = []
            for _ in range(n):
                if time.monotonic() > end:
                    break
                s = new_socket(host)
                s.settimeout(5)
                try:
                    s.bind((src, 0))
                    t = time.monotonic()
                    s.connect(address_of(host, port))
                    if time.monotonic() - t > 0.9:
                        slow += 1
                    s.sendall(request)
                    got = b''
                    while True:
                        b = s.recv(4096)
                        if not b:
                            break
                        got += b
                    if got.startswith(b'HTTP/1.1 200'):
                        ok += 1
                    else:
                        errors += 1
                except socket.timeout:
                    timeouts += 1
                except OSError as e:
                    errors += 1
                    if len(first) < 3:
                        first.append(repr(e))
                finally:
                    s.close()
            q.put(dict(src=src, ok=ok, errors=errors, timeouts=timeouts, slow=slow, first=first))

        import multiprocessing
        q = multiprocessing.Queue()
        t = time.monotonic()
        per = [count // len(sources) + (1 if i < count % len(sources) else 0) for i in range(len(sources))]
        procs = [multiprocessing.Process(target=worker, args=(src, per[i], q)) for i, src in enumerate(sources)]
        for p in procs:
            p.start()
        results = [q.get(timeout=seconds + 60) for _ in procs]
        for p in procs:
            p.join(10)
        dt = time.monotonic() - t
        total = sum(r['ok'] for r in results)
        out(mode=mode, count=count, ok=total, errors=sum(r['errors'] for r in results),
            timeouts=sum(r['timeouts'] for r in results), slow_connects=sum(r['slow'] for r in results),
            seconds=dt, rate=total / dt if dt > 0 else 0, first_errors=[e for r in results for e in r['first']][:5])
    else:
        sys.exit(f'unknown mode {mode}')


if __name__ == '__main__':
    main(sys.argv[1:])
