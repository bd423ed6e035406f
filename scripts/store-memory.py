#!/usr/bin/env python3
"""Server memory per active metric series, measured on a running release
binary: ingests 100,000 series (3 labels each) in JSON batches of 5,000,
ROUNDS rounds of one sample each, STEP seconds of data time apart, and
reads the server's VmRSS.

    target/release/livedash --listen 127.0.0.1:39555 --data-dir /tmp/mem-data --sample-interval 1h &
    scripts/store-memory.py $! [BASE] [ROUNDS=10] [STEP=1] [SETTLE=0]

With SETTLE seconds, it also reads VmRSS that long after the last round:
the store's syncer gives free memory back to the system after each
maintenance pass (once a minute), so 65 s later is what a server that
ingests steadily holds between passes at least once.

With 200 rounds 15 s apart (50 minutes of data time), each series has
sealed a raw chunk and filled two thirds of the next, and sealed three
chunks of minute rollups with five more points open: the steady state of
a series scraped every 15 s.
"""
import json
import sys
import time
import urllib.request

PID = int(sys.argv[1])
BASE = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:39555"
SERIES = 100_000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
STEP_MS = int(sys.argv[4]) * 1000 if len(sys.argv) > 4 else 1000
SETTLE_S = int(sys.argv[5]) if len(sys.argv) > 5 else 0


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for that process")


before = rss_kib()
now = int(time.time() * 1000) - ROUNDS * STEP_MS
after_one = None
for rnd in range(ROUNDS):
    for start in range(0, SERIES, 5000):
        points = [
            {
                "name": "mem_test",
                "labels": {"series": str(s), "job": "bench", "instance": f"host-{s % 100}"},
                "value": round(50 + (s % 50) + ((s * 7919 + rnd) % 1000) / 100, 2),
                "ts": now + rnd * STEP_MS,
            }
            for s in range(start, start + 5000)
        ]
        request = urllib.request.Request(
            BASE + "/api/ingest",
            data=json.dumps(points).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
    if rnd == 0:
        after_one = rss_kib()
after = rss_kib()
settled = None
if SETTLE_S:
    time.sleep(SETTLE_S)
    settled = rss_kib()
print(
    f"RSS {before} KiB before; {after_one} KiB with {SERIES} series x 1 sample "
    f"({(after_one - before) * 1024 / SERIES:.0f} B/series); {after} KiB with {ROUNDS} samples each "
    f"({(after - before) * 1024 / SERIES:.0f} B/series)"
    + (
        f"; {settled} KiB {SETTLE_S} s later ({(settled - before) * 1024 / SERIES:.0f} B/series)"
        if settled
        else ""
    )
)
