#!/usr/bin/env python3
"""sidewatch-queue: scrape cost and memory with 1,000 configured queues.

A throwaway redis-server holds 1,000 queues of mixed kinds (redis_list,
redis_zset, redis_stream with a consumer group, bullmq, rq), 100 jobs each;
sidewatch-queue reads all of them per scrape. No peer reads all these kinds,
so it runs alone. Reported: median / p90 scrape latency, CPU per scrape,
RSS and peak RSS.

Usage: bench/queue.py SIDEWATCH_BINARY [--scrapes N] [--queues N]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import binary_size, cpu_seconds, free_port, memory_kib, scrape, start  # noqa: E402
from redis import resp  # noqa: E402

KINDS = ["redis_list", "redis_zset", "redis_stream", "bullmq", "rq"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sidewatch")
    ap.add_argument("--scrapes", type=int, default=100)
    ap.add_argument("--queues", type=int, default=1000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="sidewatch-bench-queue")
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
    now_ms = int(time.time() * 1000)
    cmds, lines = [], []
    for i in range(args.queues):
        kind = KINDS[i % len(KINDS)]
        name = f"q{i}"
        if kind == "redis_list":
            cmds.append(resp("RPUSH", name, *range(100)))
            lines.append(f"  - {{ name: {name}, backend: main, kind: redis_list, key: {name} }}")
        elif kind == "redis_zset":
            cmds.append(resp("ZADD", name, *[x for j in range(100) for x in (now_ms // 1000 - j, j)]))
            lines.append(f"  - {{ name: {name}, backend: main, kind: redis_zset, key: {name} }}")
        elif kind == "redis_stream":
            for j in range(100):
                cmds.append(resp("XADD", name, "*", "n", j))
            cmds.append(resp("XGROUP", "CREATE", name, "g", "0"))
            cmds.append(resp("XREADGROUP", "GROUP", "g", "c", "COUNT", 10, "STREAMS", name, ">"))
            lines.append(f"  - {{ name: {name}, backend: main, kind: redis_stream, key: {name} }}")
        elif kind == "bullmq":
            cmds.append(resp("LPUSH", f"bull:{name}:wait", *range(100)))
            cmds.append(resp("HSET", f"bull:{name}:0", "timestamp", now_ms - 5000))
            lines.append(f"  - {{ name: {name}, backend: main, kind: bullmq, queue: {name} }}")
        else:
            cmds.append(resp("RPUSH", f"rq:queue:{name}", *[f"{name}-{j}" for j in range(100)]))
            cmds.append(resp("HSET", f"rq:job:{name}-0", "enqueued_at", "2026-01-01T00:00:00.000000Z"))
            lines.append(f"  - {{ name: {name}, backend: main, kind: rq, queue: {name} }}")
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(cmds), check=True,
                   stdout=subprocess.DEVNULL)
    cfg = os.path.join(root, "queues.yml")
    with open(cfg, "w") as f:
        f.write(f"backends:\n  - {{ name: main, redis: 'redis://127.0.0.1:{port}' }}\nqueues:\n")
        f.write("\n".join(lines) + "\n")
    log = tempfile.TemporaryFile()
    proc, url = start("sidewatch-queue", [args.sidewatch, f"--config.file={cfg}"], free_port(), log)
    try:
        for _ in range(5):
            scrape(url)
        cpu0 = cpu_seconds(proc.pid)
        lat = []
        for _ in range(args.scrapes):
            d, size = scrape(url)
            lat.append(d)
        cpu = cpu_seconds(proc.pid) - cpu0
        mem = memory_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)
    lat.sort()
    print(f"{args.scrapes} scrapes, {args.queues} queues ({', '.join(KINDS)} in turn, 100 jobs each); "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}; {binary_size(args.sidewatch)}")
    print()
    print("| queues | median latency ms | p90 latency ms | CPU ms / scrape | RSS MiB | peak RSS MiB | body bytes |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.queues} | {statistics.median(lat) * 1000:.2f} | {lat[int(len(lat) * 0.9)] * 1000:.2f} | "
          f"{cpu * 1000 / args.scrapes:.3f} | {mem['VmRSS'] / 1024:.1f} | {mem['VmHWM'] / 1024:.1f} | {size} |")


if __name__ == "__main__":
    main()
