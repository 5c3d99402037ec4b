#!/usr/bin/env python3
"""What one scrape costs an exporter process, from the kernel's counters.

Starts BINARY on a free port with the given arguments, scrapes it 20 times
to warm it, then N times, and prints per scrape the minor page faults
(/proc/<pid>/stat), the user and system CPU time, and the voluntary and
involuntary context switches of all its threads (/proc/<pid>/task/*/status),
with the thread count and VmRSS at the end. No peer: compare two builds by
running it on each, one after the other.

Usage: bench/perscrape.py BINARY [SCRAPES] [-- EXPORTER ARGS...]
"""

import glob
import os
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counters(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    voluntary = involuntary = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
        except FileNotFoundError:
            pass  # a pool thread that ended meanwhile
    # minflt, utime, stime (fields 10, 14, 15 of stat(5), after the name)
    return int(fields[7]), int(fields[11]), int(fields[12]), voluntary, involuntary


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    if not args:
        sys.exit(__doc__)
    binary = args[0]
    scrapes = int(args[1]) if len(args) > 1 else 500
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)
        for _ in range(20):
            urllib.request.urlopen(url, timeout=10).read()
        before = counters(proc.pid)
        size = 0
        for _ in range(scrapes):
            size = len(urllib.request.urlopen(url, timeout=10).read())
        after = counters(proc.pid)
        d = [(b - a) / scrapes for a, b in zip(before, after)]
        tick = os.sysconf("SC_CLK_TCK")
        print(f"{os.path.basename(binary)}: {scrapes} scrapes, body {size} bytes; per scrape: "
              f"page faults {d[0]:.1f}, user {d[1] / tick * 1e3:.3f} ms, "
              f"system {d[2] / tick * 1e3:.3f} ms, context switches {d[3]:.1f} voluntary "
              f"+ {d[4]:.1f} involuntary")
        threads = len(glob.glob(f"/proc/{proc.pid}/task/*"))
        rss = next(l.split()[1] for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmRSS"))
        print(f"threads {threads}, VmRSS {int(rss) / 1024:.1f} MiB")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
