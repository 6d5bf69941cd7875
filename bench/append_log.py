#!/usr/bin/env python3
"""bench/append_log.py - an append log's cost per scrape must not grow with the file.

Writes two `date -Is` + /proc/meminfo logs, about 40 KB and 40 MB, serves each with the
adapter (the newcomer's config: type, path, parser = "meminfo_appended"), scrapes each
SCRAPES times one at a time on 127.0.0.1, and reports per size: the median and p99 scrape
time, bytes read per scrape (from metrics_adapter_source_read_bytes_total) and the
adapter's peak RSS (VmHWM). Bounded: SCRAPES (default 300) per size, 60 s at most each.

Usage: python3 bench/append_log.py [ADAPTER_BIN]   (default target/release/metrics-adapter)
Writes the table to stdout and bench/results/append-log.md.
"""
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/metrics-adapter")
SCRAPES = int(os.environ.get("SCRAPES", "300"))
MEMINFO = open("/proc/meminfo").read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_log(path, size):
    t = 1_795_564_800
    with open(path, "w") as f:
        written = 0
        while written < size:
            t += 5
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
            block = f"{stamp}\n{MEMINFO}"
            f.write(block)
            written += len(block)
    return t


def get(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()


def read_bytes(page):
    m = re.search(r'^metrics_adapter_source_read_bytes_total\{source="log"\} (\S+)$', page, re.M)
    return float(m.group(1))


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run(size, tmp):
    log = os.path.join(tmp, f"log-{size}")
    last = write_log(log, size)
    config = os.path.join(tmp, "config.toml")
    with open(config, "w") as f:
        f.write(f'[sources.log]\ntype = "file"\npath = "{log}"\nparser = "meminfo_appended"\n')
    port = free_port()
    proc = subprocess.Popen(
        [BIN, "--config", config, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                get(port, "/healthz")
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("adapter did not start")
                time.sleep(0.05)
        first = get(port)
        m = re.search(r"^meminfo_block_timestamp_seconds (\S+)$", first, re.M)
        if not m or float(m.group(1)) != float(last):
            raise SystemExit(f"{size}: the newest block is not the one served")
        times = []
        end = time.time() + 60
        before = read_bytes(first)
        for _ in range(SCRAPES):
            if time.time() > end:
                break
            t0 = time.perf_counter()
            page = get(port)
            times.append(time.perf_counter() - t0)
        per_scrape = (read_bytes(page) - before) / len(times)
        hwm = status(proc.pid, "VmHWM")
        times.sort()
        return {
            "size": os.path.getsize(log),
            "scrapes": len(times),
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
            "bytes_per_scrape": per_scrape,
            "peak_rss_kib": hwm,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(size, tmp) for size in (40 << 10, 40 << 20)]
    small, big = rows
    lines = [
        "| log size | scrapes | p50 ms | p99 ms | bytes read per scrape | peak RSS KiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['scrapes']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['bytes_per_scrape']:,.0f} | {r['peak_rss_kib']:,} |"
        )
    lines.append(
        f"\n40 MB / 40 KB: p50 {big['p50_ms'] / small['p50_ms']:.2f}x, "
        f"bytes read {big['bytes_per_scrape'] / small['bytes_per_scrape']:.2f}x, "
        f"peak RSS {big['peak_rss_kib'] / small['peak_rss_kib']:.2f}x"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/append-log.md"), "w") as f:
        f.write(f"# Append log: cost per scrape against file size ({BIN})\n\n{text}")


if __name__ == "__main__":
    main()
