#!/usr/bin/env python3
"""sidewatch-wal: scrape cost and memory with 10, 10,000 and 100,000 files.

There is no peer to run beside it (no exporter reads WAL directories from
disk), so each size is measured on its own: a generic directory of N files
is created, sidewatch-wal watches it, and 200 scrapes are timed while a
writer appends to one file (events keep arriving). Reported: median / p90
scrape latency, CPU per scrape (utime+stime of the whole process over the
scrapes, so it includes the rescans that events trigger), RSS and peak RSS.

Usage: bench/wal.py SIDEWATCH_BINARY [--scrapes N]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import binary_size, cpu_seconds, free_port, memory_kib, scrape, start  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sidewatch")
    ap.add_argument("--scrapes", type=int, default=200)
    args = ap.parse_args()
    print(f"{args.scrapes} scrapes per size, a writer appending to one file throughout; "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}; {binary_size(args.sidewatch)}")
    print()
    print("| files | median latency ms | p90 latency ms | CPU ms / scrape | RSS MiB | peak RSS MiB | body bytes |")
    print("|---|---|---|---|---|---|---|")
    for n in (10, 10_000, 100_000):
        root = tempfile.mkdtemp(prefix="sidewatch-bench-wal")
        for i in range(n):
            with open(os.path.join(root, f"{i:08d}.wal"), "wb") as f:
                f.write(b"x" * 64)
        log = tempfile.TemporaryFile()
        proc, url = start("sidewatch-wal", [args.sidewatch, f"--wal.dir={root}", "--wal.kind=generic",
                                            "--wal.pattern=*.wal"], free_port(), log)
        stop = threading.Event()

        def writer():
            with open(os.path.join(root, "00000000.wal"), "ab") as f:
                while not stop.is_set():
                    f.write(b"y" * 100)
                    f.flush()
                    time.sleep(0.01)

        t = threading.Thread(target=writer)
        t.start()
        try:
            for _ in range(10):
                scrape(url)
            cpu0 = cpu_seconds(proc.pid)
            lat = []
            for _ in range(args.scrapes):
                d, size = scrape(url)
                lat.append(d)
            cpu = cpu_seconds(proc.pid) - cpu0
            mem = memory_kib(proc.pid)
        finally:
            stop.set()
            t.join()
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(root, ignore_errors=True)
        lat.sort()
        print(f"| {n} | {statistics.median(lat) * 1000:.2f} | {lat[int(len(lat) * 0.9)] * 1000:.2f} | "
              f"{cpu * 1000 / args.scrapes:.3f} | {mem['VmRSS'] / 1024:.1f} | {mem['VmHWM'] / 1024:.1f} | {size} |")


if __name__ == "__main__":
    main()
