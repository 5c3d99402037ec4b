#!/usr/bin/env python3
"""sidewatch-redis vs redis_exporter, side by side, interleaved, in one run.

A throwaway redis-server is filled with KEYS keys (strings, plus lists and
streams with consumer groups). Two scenarios run, each with both exporters
on the same server, scrapes alternating between them:

  default    default flags of each
  checks     single-key checks on 50 lists and stream checks on 20 streams
             (pattern walk over the 100k keys), the same flags for both

Reported per exporter: median / p90 scrape latency, CPU per scrape
(utime+stime / scrapes), resident memory after the run and its peak.

Usage: bench/redis.py SIDEWATCH_BINARY [--scrapes N] [--keys N]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import binary_size, free_port, peer_binary, measure, report, start  # noqa: E402

LISTS = 50
STREAMS = 20


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def fill(port, keys):
    """Writes the data set with one pipelined connection (redis-cli --pipe style)."""
    cmds = []
    for i in range(keys - LISTS - STREAMS):
        cmds.append(resp("SET", f"key:{i}", i))
    for i in range(LISTS):
        cmds.append(resp("RPUSH", f"list:{i}", *range(i + 1)))
    for i in range(STREAMS):
        for j in range(10):
            cmds.append(resp("XADD", f"stream:{i}", "*", "n", j))
        cmds.append(resp("XGROUP", "CREATE", f"stream:{i}", "workers", "0"))
        cmds.append(resp("XREADGROUP", "GROUP", "workers", "c1", "COUNT", 3, "STREAMS", f"stream:{i}", ">"))
    data = b"".join(cmds)
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, check=True,
                   stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sidewatch")
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--keys", type=int, default=100_000)
    args = ap.parse_args()
    peer, peer_version = peer_binary("prometheus-redis-exporter", "prometheus-redis-exporter", "redis_exporter")
    if not peer:
        sys.exit("prometheus-redis-exporter: run scripts/fetch-debian.sh sid prometheus-redis-exporter")
    print(f"peer: {peer} ({peer_version})")
    root = tempfile.mkdtemp(prefix="sidewatch-bench-redis")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", root],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    fill(port, args.keys)
    addr = f"redis://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    print(f"{args.scrapes} interleaved scrapes each, after {args.warmup} warm-up scrapes; "
          f"{args.keys} keys ({LISTS} lists, {STREAMS} streams with a consumer group); "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}; {binary_size(args.sidewatch)}")
    print()
    singles = ",".join(f"list:{i}" for i in range(LISTS))
    checks = [f"--check-single-keys={singles}", "--check-streams=stream:*"]
    scenarios = [
        ("default flags", []),
        (f"--check-single-keys ({LISTS} lists) and --check-streams over all {args.keys} keys", checks),
    ]
    try:
        for title, flags in scenarios:
            exporters = {
                "sidewatch-redis": start("sidewatch-redis",
                                         [args.sidewatch, f"--redis.addr={addr}"] + flags, free_port(), log),
                "redis_exporter": start("redis_exporter",
                                        [peer, f"--redis.addr={addr}"] + flags, free_port(), log),
            }
            try:
                lat, cpu, mem, size = measure(exporters, args.scrapes, args.warmup)
            finally:
                for p, _ in exporters.values():
                    p.terminate()
                    p.wait(10)
            report(title, exporters, lat, cpu, mem, size, args.scrapes)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
