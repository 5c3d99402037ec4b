#!/usr/bin/env python3
"""sidewatch-postgres scraped alone: where its CPU and latency go.

Starts a throwaway cluster as bench/postgres.py does (DATABASES databases
of TABLES tables), runs BINARY against it with default flags, and after
warm-up scrapes it SCRAPES times one after the other. Prints the CPU the
exporter and its backends (found by application_name) used per scrape, the
median latency, and the exporter's resident heap and code after the run.

Usage: bench/pg_alone.py BINARY [--scrapes N] [--databases N] [--tables N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import cpu_seconds, free_port, scrape, start  # noqa: E402
from postgres import start_cluster  # noqa: E402


def backends(port, application):
    out = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-U", "postgres", "-p", str(port),
                          "-d", "postgres", "-c",
                          f"SELECT pid FROM pg_stat_activity WHERE application_name = '{application}'"],
                         capture_output=True, text=True, check=True).stdout
    return [int(p) for p in out.split()]


def resident(pid, binary):
    """KiB resident in the heap and in the binary's executable mapping."""
    heap = code = 0
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                fields = line.split()
                name = ("heap" if fields[-1] == "[heap]" else
                        "code" if fields[-1].endswith(os.path.basename(binary)) and "x" in fields[1] else None)
            elif line.startswith("Rss:") and name:
                kib = int(line.split()[1])
                heap += kib if name == "heap" else 0
                code += kib if name == "code" else 0
    return heap, code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--scrapes", type=int, default=300)
    ap.add_argument("--databases", type=int, default=10)
    ap.add_argument("--tables", type=int, default=50)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="sidewatch-bench-pg")
    server, port = start_cluster(root, args.databases, args.tables)
    env = dict(os.environ, DATA_SOURCE_NAME=f"postgresql://postgres@127.0.0.1:{port}/bench0?sslmode=disable")
    log = tempfile.TemporaryFile()
    proc, url = start("sidewatch-postgres", [args.binary], free_port(), log, env)
    try:
        for _ in range(10):
            scrape(url)
        pids = backends(port, "sidewatch-postgres")
        before = [cpu_seconds(p) for p in pids] + [cpu_seconds(proc.pid)]
        lat = [scrape(url)[0] for _ in range(args.scrapes)]
        after = [cpu_seconds(p) for p in pids] + [cpu_seconds(proc.pid)]
        time.sleep(0.3)
        heap, code = resident(proc.pid, args.binary)
        with open(f"/proc/{proc.pid}/status") as f:
            status = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS", "VmHWM"))}
        server_ms = sum(a - b for a, b in zip(after[:-1], before[:-1])) / args.scrapes * 1000
        exporter_ms = (after[-1] - before[-1]) / args.scrapes * 1000
        print(f"{os.path.basename(args.binary)}: {len(pids)} backends {server_ms:.2f} ms CPU / scrape, "
              f"exporter {exporter_ms:.2f} ms, median latency {statistics.median(lat) * 1000:.2f} ms; "
              f"heap {heap} KiB, code {code} KiB resident, VmRSS {status['VmRSS']} KiB, "
              f"VmHWM {status['VmHWM']} KiB")
    finally:
        proc.terminate()
        proc.wait(10)
        server.send_signal(2)
        server.wait(60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
