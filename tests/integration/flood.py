#!/usr/bin/env python3
"""flood.py - unauthenticated floods for the resource-bound tests (flood.sh), with plain sockets.

  flood.py halfopen PORT SECONDS RATE ADDR...
      From each ADDR in turn (127.0.0.2, ...), RATE connections a second in all, for SECONDS:
      each sends the first part of a request's headers and closes. Prints how many it made.
  flood.py bodies PORT PATH COUNT SIZE CONCURRENCY [HEADER...]
      COUNT requests with headers HEADER... and a body of SIZE bytes (Content-Length), each closed
      as soon as its last byte is written, never reading an answer. Prints how many it sent.
  flood.py raw PORT
      Sends stdin's bytes as they are; prints the answer's status line (or "closed").
Every loop is bounded in count and time and talks only to 127.0.0.0/8.
"""
import socket
import sys
import threading
import time


def halfopen(port, seconds, rate, addrs):
    made = 0
    start = time.monotonic()
    gap = 1.0 / rate
    partial = b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Type: appl"
    i = 0
    while time.monotonic() - start < seconds:
        s = socket.socket()
        try:
            s.bind((addrs[i % len(addrs)], 0))
            s.settimeout(1)
            s.connect(("127.0.0.1", port))
            s.sendall(partial)
            made += 1
        except OSError:
            pass
        finally:
            s.close()
        i += 1
        next_at = start + i * gap
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(made)


def bodies(port, path, count, size, concurrency, headers):
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (path, size, "".join(h + "\r\n" for h in headers))).encode()
    body = b"x" * size
    sent = [0]
    lock = threading.Lock()
    todo = iter(range(count))

    def worker():
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            s = socket.socket()
            try:
                s.settimeout(5)
                s.connect(("127.0.0.1", port))
                s.sendall(head + body)
                with lock:
                    sent[0] += 1
            except OSError:
                pass  # refused before the body: the point of the test
            finally:
                s.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sent[0])


def raw(port):
    data = sys.stdin.buffer.read()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    try:
        s.sendall(data)
        while b"\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    s.close()
    print(out.split(b"\r\n")[0].decode("latin-1") if out else "closed")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "halfopen":
        halfopen(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
    elif cmd == "bodies":
        bodies(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
               sys.argv[7:])
    elif cmd == "raw":
        raw(int(sys.argv[2]))
    else:
        sys.exit("usage: see the top of flood.py")
