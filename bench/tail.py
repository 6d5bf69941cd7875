#!/usr/bin/env python3
"""bench/tail.py - metrics-adapter's `tail` source vs mtail on the same access log.

Driven by bench/tail.sh (which checks the tools and builds nothing itself). For each run
and each tool, alternating (adapter, mtail, adapter, mtail, ...):
  * an empty access.log in a fresh directory, the tool started on it (127.0.0.1, a free
    port), waited for until it serves /metrics (the adapter: /readyz);
  * the whole generated log (LINES combined lines with $request_time
    $upstream_response_time, a fixed mix of methods and statuses) appended in one go;
  * /metrics polled every 100 ms until nginx_http_response_count_total sums to LINES
    (bounded by RUN_TIMEOUT): lines/s = LINES / (time of the first complete page - time the
    append started); CPU = utime+stime of the tool's process over that span (from
    /proc/PID/stat), per million lines; RSS before = VmRSS just before the append; peak
    RSS = VmHWM at the end.
Both count the same things: a counter by method/status, bytes by method/status, and a
histogram of $request_time by method/status with the same 11 buckets (bench/tail.mtail is
the mtail program; the adapter uses the built-in nginx_access recipe, which also keeps the
upstream time histogram: more work, not less).
Writes a Markdown report (medians of RUNS, ratios) to OUT and the raw runs to OUT.tsv.
"""

import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

LINES = int(os.environ.get("LINES", "1000000"))
RUNS = int(os.environ.get("RUNS", "3"))
RUN_TIMEOUT = float(os.environ.get("RUN_TIMEOUT", "300"))
ADAPTER = os.environ["ADAPTER_BIN"]
MTAIL = os.environ.get("MTAIL_BIN", "/usr/bin/mtail")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUT", os.path.join(HERE, "results", "tail-latest.md"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate(path, n):
    """n combined lines + $request_time $upstream_response_time, deterministic."""
    rnd = random.Random(42)
    methods = ["GET"] * 16 + ["POST"] * 2 + ["PUT", "DELETE", "HEAD"]
    statuses = ["200"] * 14 + ["201", "301", "304", "404", "404", "500", "502"]
    agents = ['"curl/7.88.1"', '"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"']
    with open(path, "w") as f:
        buf = []
        for i in range(n):
            up = "-" if rnd.random() < 0.5 else f"{rnd.random() * 0.5:.3f}"
            buf.append(
                f'10.0.{i % 250}.{i % 199} - - [29/Nov/2026:22:{i // 60000 % 60:02d}:{i // 1000 % 60:02d} +0000] '
                f'"{rnd.choice(methods)} /api/v1/items/{i % 5000} HTTP/1.1" {rnd.choice(statuses)} '
                f'{rnd.randrange(0, 20000)} "-" {rnd.choice(agents)} {rnd.random() * 2:.3f} {up}\n'
            )
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def counted(page):
    total = 0.0
    for line in page.splitlines():
        if line.startswith("nginx_http_response_count_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss(pid, field="VmHWM"):
    """VmHWM (peak) or VmRSS (now) of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def start(tool, d, log, port):
    if tool == "adapter":
        cfg = os.path.join(d, "adapter.toml")
        with open(cfg, "w") as f:
            f.write(
                '[sources.web]\ntype = "tail"\nparser = "nginx_access"\n'
                f'path = "{log}"\ninterval = "250ms"\ntimeout = "5s"\n'
            )
        cmd = [ADAPTER, "--config", cfg, "--listen", f"127.0.0.1:{port}"]
        ready = f"http://127.0.0.1:{port}/readyz"
    else:
        progs = os.path.join(d, "progs")
        os.mkdir(progs)
        shutil.copy(os.path.join(HERE, "tail.mtail"), os.path.join(progs, "nginx.mtail"))
        cmd = [MTAIL, "--progs", progs, "--logs", log, "--address", "127.0.0.1",
               "--port", str(port), "--logtostderr", "--poll_interval", "250ms"]
        ready = f"http://127.0.0.1:{port}/metrics"
    out = open(os.path.join(d, f"{tool}.log"), "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            if get(ready, 1)[0] == 200:
                break
        except OSError:
            pass
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            sys.exit(f"tail.py: {tool} did not come up; see {out.name}")
        time.sleep(0.05)
    # mtail finds its log files on its own schedule: let it settle on the empty file.
    time.sleep(1.0)
    return p


def run(tool, src):
    d = tempfile.mkdtemp(prefix=f"tail-bench-{tool}-")
    log = os.path.join(d, "access.log")
    open(log, "w").close()
    port = free_port()
    p = start(tool, d, log, port)
    try:
        metrics = f"http://127.0.0.1:{port}/metrics"
        idle = rss(p.pid, "VmRSS")
        cpu0 = cpu_seconds(p.pid)
        t0 = time.monotonic()
        with open(src, "rb") as s, open(log, "ab") as f:
            shutil.copyfileobj(s, f, 16 << 20)
        while True:
            n = counted(get(metrics, 30)[1])
            if n >= LINES:
                break
            if time.monotonic() - t0 > RUN_TIMEOUT:
                sys.exit(f"tail.py: {tool} counted {n:.0f} of {LINES} lines in {RUN_TIMEOUT}s")
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(p.pid) - cpu0
        if n != LINES:
            sys.exit(f"tail.py: {tool} counted {n:.0f} lines, not {LINES}")
        return {
            "tool": tool,
            "seconds": elapsed,
            "lines_per_s": LINES / elapsed,
            "cpu_s_per_M": cpu / (LINES / 1e6),
            "idle_rss_mib": idle / (1 << 20),
            "peak_rss_mib": rss(p.pid) / (1 << 20),
        }
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(d, ignore_errors=True)


def main():
    work = tempfile.mkdtemp(prefix="tail-bench-")
    try:
        src = os.path.join(work, "access.log.src")
        generate(src, LINES)
        size = os.path.getsize(src)
        rows = []
        for i in range(RUNS):
            for tool in ("adapter", "mtail"):
                r = run(tool, src)
                r["run"] = i + 1
                print(f"[tail] run {i + 1} {tool}: {r['lines_per_s']:,.0f} lines/s, "
                      f"{r['cpu_s_per_M']:.2f} CPU s per 1M lines, RSS {r['idle_rss_mib']:.1f} -> {r['peak_rss_mib']:.1f} MiB",
                      file=sys.stderr)
                rows.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {t: {k: statistics.median(r[k] for r in rows if r["tool"] == t)
               for k in ("lines_per_s", "cpu_s_per_M", "idle_rss_mib", "peak_rss_mib")}
           for t in ("adapter", "mtail")}
    a, m = med["adapter"], med["mtail"]
    speed = a["lines_per_s"] / m["lines_per_s"]
    rss_ratio = a["peak_rss_mib"] / m["peak_rss_mib"]
    goal = speed >= 3 and rss_ratio <= 1 / 3
    mtail_version = subprocess.run([MTAIL, "--version"], capture_output=True, text=True).stdout.split(" git")[0]
    lines = [
        f"LINES={LINES} ({size / 1e6:.0f} MB), RUNS={RUNS}, {os.cpu_count()} CPUs; "
        f"adapter `{ADAPTER}` ({os.environ.get('ADAPTER_NOTE', 'release build')}), {mtail_version}",
        "",
        "| | lines/s | CPU s per 1M lines | RSS before (MiB) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
        f"| metrics-adapter | {a['lines_per_s']:,.0f} | {a['cpu_s_per_M']:.2f} | {a['idle_rss_mib']:.1f} | {a['peak_rss_mib']:.1f} |",
        f"| mtail | {m['lines_per_s']:,.0f} | {m['cpu_s_per_M']:.2f} | {m['idle_rss_mib']:.1f} | {m['peak_rss_mib']:.1f} |",
        f"| ratio adapter/mtail | {speed:.2f}x | {a['cpu_s_per_M'] / m['cpu_s_per_M']:.2f}x | "
        f"{a['idle_rss_mib'] / m['idle_rss_mib']:.2f}x | {rss_ratio:.2f}x |",
        "",
        f"Goal (>= 3x mtail's lines/s at <= 1/3 of its RSS): {'met' if goal else 'missed'}.",
        "",
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    with open(OUT + ".tsv", "w") as f:
        keys = ["run", "tool", "seconds", "lines_per_s", "cpu_s_per_M", "idle_rss_mib", "peak_rss_mib"]
        f.write("\t".join(keys) + "\n")
        for r in rows:
            f.write("\t".join(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
