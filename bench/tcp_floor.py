#!/usr/bin/env python3
"""bench/tcp_floor.py HOST PORT SECONDS REQUEST END - the floor of a text-protocol source.

Sends REQUEST (e.g. 'stats\\r\\n') on one kept-open connection, reads until the reply ends
with END (e.g. 'END\\r\\n'), again and again for SECONDS, one request at a time (as the
adapter reads it, and as Prometheus scrapes: one at a time). Prints what compare.sh's
parse_wrk prints: "rps p50_ms p99_ms requests 0 0". Standard library only; its own
overhead (a few microseconds per request) is part of the floor.
"""
import socket
import sys
import time


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    request = sys.argv[4].encode().decode("unicode_escape").encode()
    end = sys.argv[5].encode().decode("unicode_escape").encode()
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    t_end = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        if t0 >= t_end:
            break
        s.sendall(request)
        buf = b""
        while not buf.endswith(end):
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk
        lat.append(time.perf_counter() - t0)
    took = time.perf_counter() - start
    lat.sort()
    n = len(lat)
    p50 = lat[n // 2] * 1000
    p99 = lat[min(n - 1, int(n * 0.99))] * 1000
    print(f"{n / took:.2f} {p50:.4f} {p99:.4f} {n} 0 0")


if __name__ == "__main__":
    main()
