#!/usr/bin/env python3
"""Waits until every PromQL expression returns a non-empty result, for deploy/test/rehearse.sh.

  promwait.py PROMETHEUS_URL DEADLINE_SECONDS EXPR...

Write each expression as a condition (`up{pod="x"} == 1`, `count(...) == 4`): PromQL's
comparisons drop what is false, so "non-empty" means "true". Polls every 0.5 s. On success
prints each expression with its values; at the deadline prints the ones still false, each
with the value of its left-hand side, and the scrape targets' state, then exits 1.
Standard library only.
"""

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def show(result):
    if not result:
        return "(empty)"
    return ", ".join(
        "{" + ",".join(f'{k}="{v}"' for k, v in sorted(r["metric"].items()) if k != "__name__") + "} "
        + r["value"][1]
        for r in result
    )


def lhs(expr):
    """The expression without its final comparison: what the value actually is."""
    m = re.match(r"^(.*?)\s*(==|!=|>=|<=|>|<)\s*[-\d.e+]+\s*$", expr)
    return m.group(1) if m else expr


def main(base, deadline, *exprs):
    end = time.monotonic() + float(deadline)
    pending = list(exprs)
    done = {}
    last_error = ""
    while pending and time.monotonic() < end:
        still = []
        for e in pending:
            try:
                result = query(base, e)
            except (OSError, urllib.error.URLError, RuntimeError, ValueError) as err:
                last_error = str(err)
                still.append(e)
                continue
            if result:
                done[e] = result
            else:
                still.append(e)
        pending = still
        if pending:
            time.sleep(0.5)
    for e in exprs:
        if e in done:
            print(f"  ok   {e}   -> {show(done[e])}")
    if not pending:
        return 0
    for e in pending:
        try:
            now = show(query(base, lhs(e)))
        except Exception as err:  # noqa: BLE001 - diagnostics only
            now = f"query failed: {err}"
        print(f"  FAIL {e}   (after {deadline} s; {lhs(e)} is {now})")
    if last_error:
        print(f"  last query error: {last_error}")
    try:
        with urllib.request.urlopen(f"{base}/api/v1/targets", timeout=5) as r:
            targets = json.load(r)["data"]["activeTargets"]
        print("  scrape targets:")
        for t in targets:
            print(f"    {t['scrapeUrl']} pod={t['labels'].get('pod')} health={t['health']}"
                  f" lastError={t['lastError']!r}")
    except Exception as err:  # noqa: BLE001 - diagnostics only
        print(f"  (cannot list targets: {err})")
    return 1


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
