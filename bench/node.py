#!/usr/bin/env python3
"""sidewatch-node vs node_exporter, side by side, interleaved, in one run.

Both exporters run with the same collector set and filters on this machine.
Scrapes alternate between them (A, B, A, B, ...) so both see the same host
state and the same background load. Reported per exporter:

  median / p90 scrape latency  (client-side, full HTTP round trip, text format)
  CPU per scrape               (utime+stime of the exporter process / scrapes)
  resident memory              (VmRSS after the run, VmHWM = peak)

Usage: bench/node.py SIDEWATCH_BINARY [--scrapes N]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

COLLECTORS = ["cpu", "diskstats", "filefd", "filesystem", "loadavg", "meminfo", "netdev",
              "netstat", "os", "pressure", "sockstat", "stat", "time", "uname", "vmstat"]
FILTERS = [
    "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "--collector.netdev.device-exclude=^lo$",
]
TICKS = os.sysconf("SC_CLK_TCK")


def peer_binary(package, program, *path_names):
    """Today's peer: Debian sid's package as scripts/fetch-debian.sh unpacks
    it (run it first: `scripts/fetch-debian.sh sid PACKAGE`), newest version
    first; else the one on PATH. Returns (path, version) or (None, None)."""
    cache = os.environ.get("SIDEWATCH_CACHE") or os.path.expanduser("~/.cache/sidewatch")
    pkgs = os.path.join(cache, "debian", "sid", "pkgs")
    found = []
    if os.path.isdir(pkgs):
        for d in os.listdir(pkgs):
            if d.startswith(package + "-") and d[len(package) + 1:][:1].isdigit():
                binary = os.path.join(pkgs, d, "usr", "bin", program)
                if os.path.exists(os.path.join(pkgs, d, ".done")) and os.access(binary, os.X_OK):
                    found.append((d[len(package) + 1:], binary))
    if found:
        version, binary = sorted(found)[-1]
        return binary, "sid " + version
    for name in (program,) + path_names:
        binary = shutil.which(name)
        if binary:
            return binary, "on PATH"
    return None, None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def scrape(url):
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read()
    return time.perf_counter() - start, len(body)


def start(name, argv, port, log, env=None):
    proc = subprocess.Popen(argv + [f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}/metrics"
    for _ in range(200):
        try:
            scrape(url)
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    log.seek(0)
    sys.exit(f"{name} did not start:\n{log.read().decode(errors='replace')[-2000:]}")


def measure(exporters, scrapes, warmup):
    for _ in range(warmup):
        for _, url in exporters.values():
            scrape(url)
    cpu0 = {n: cpu_seconds(p.pid) for n, (p, _) in exporters.items()}
    lat = {n: [] for n in exporters}
    size = {}
    for _ in range(scrapes):
        for n, (_, url) in exporters.items():
            t, size[n] = scrape(url)
            lat[n].append(t)
    cpu = {n: cpu_seconds(p.pid) - cpu0[n] for n, (p, _) in exporters.items()}
    mem = {n: memory_kib(p.pid) for n, (p, _) in exporters.items()}
    return lat, cpu, mem, size


def report(title, exporters, lat, cpu, mem, size, scrapes):
    if title:
        print(f"### {title}")
        print()
    print("| exporter | median latency ms | p90 latency ms | CPU ms / scrape | RSS MiB | peak RSS MiB | body bytes |")
    print("|---|---|---|---|---|---|---|")
    for n in exporters:
        ls = sorted(lat[n])
        print(f"| {n} | {statistics.median(ls) * 1000:.2f} | {ls[int(len(ls) * 0.9)] * 1000:.2f} | "
              f"{cpu[n] * 1000 / scrapes:.3f} | {mem[n]['VmRSS'] / 1024:.1f} | "
              f"{mem[n]['VmHWM'] / 1024:.1f} | {size[n]} |")
    a, b = list(exporters)
    print()
    print(f"ratios {a}/{b}: memory {mem[a]['VmRSS'] / mem[b]['VmRSS']:.2f}, "
          f"CPU per scrape {cpu[a] / max(cpu[b], 1e-9):.2f}, "
          f"median latency {statistics.median(lat[a]) / statistics.median(lat[b]):.2f} "
          f"(targets: <= 0.20, <= 0.25, <= 0.33)")
    print()


def binary_size(path):
    """The binary's size, as the bench prints it beside the figures."""
    size = os.path.getsize(path)
    return f"{os.path.basename(path)}: {size} bytes ({size / 1048576:.1f} MiB)"


def scrape_ops(binary, argv):
    """What one sidewatch-node scrape asks of the kernel's files, read off
    strace: each file opened (read to its end), each file kept open from an
    earlier scrape and read again from offset 0 (pread), each directory
    opened for listing, each statfs; and the body's size."""
    log = tempfile.TemporaryFile()
    proc, url = start("sidewatch-node", [binary] + argv, free_port(), log)
    trace = tempfile.NamedTemporaryFile(suffix=".strace", delete=False).name
    try:
        scrape(url)
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-y", "-e", "trace=openat,statfs,pread64,close",
                                   "-o", trace, "-p", str(proc.pid)])
        time.sleep(1)  # attached to every thread
        _, size = scrape(url)
        time.sleep(0.3)
        tracer.terminate()
        tracer.wait(10)
    finally:
        proc.terminate()
        proc.wait(10)
    ops = []
    fresh = set()  # fds opened this scrape and not closed yet
    pending = {}  # thread -> (fd, path) of a pread64 not finished in its line
    with open(trace) as f:
        for line in f:
            m = re.search(r'openat\(AT_FDCWD(?:<[^>]*>)?, "([^"]+)", ([A-Z_|]+).*= (\d+)', line)
            if m:
                ops.append(("d" if "O_DIRECTORY" in m.group(2) else "r", m.group(1)))
                fresh.add(m.group(3))
                continue
            m = re.search(r'openat\(AT_FDCWD(?:<[^>]*>)?, "([^"]+)", ([A-Z_|]+)', line)
            if m:  # failed, or unfinished in this line
                ops.append(("d" if "O_DIRECTORY" in m.group(2) else "r", m.group(1)))
                continue
            m = re.search(r'<\.\.\. openat resumed>.*= (\d+)', line)
            if m:
                fresh.add(m.group(1))
                continue
            m = re.search(r'close\((\d+)', line)
            if m:
                fresh.discard(m.group(1))
                continue
            # A file kept open from an earlier scrape, read again from 0; a
            # file opened this scrape is read with pread too, and counts as
            # its open.
            pid = line.split(None, 1)[0]
            m = re.search(r'pread64\((\d+)<([^>]+)>,\s+(?:<unfinished|.*, (\d+)\) = )', line)
            if m:
                if m.group(3) is None:  # the offset comes with the resumed line
                    pending[pid] = (m.group(1), m.group(2))
                elif m.group(3) == "0" and m.group(1) not in fresh:
                    ops.append(("p", m.group(2)))
                continue
            m = re.search(r'<\.\.\. pread64 resumed>.*, (\d+)\) = ', line)
            if m and pid in pending:
                fd, path = pending.pop(pid)
                if m.group(1) == "0" and fd not in fresh:
                    ops.append(("p", path))
                continue
            m = re.search(r'statfs\("([^"]+)"', line)
            if m:
                ops.append(("s", m.group(1)))
    os.unlink(trace)
    # strace names a kept file by the path the kernel gives its fd, which
    # for /proc/self is the exporter's own pid, gone when the floor runs.
    own = f"/proc/{proc.pid}/"
    ops = [(k, "/proc/self/" + p[len(own):] if p.startswith(own) else p) for k, p in ops]
    return ops, size


def floor(binary, argv, iterations=300):
    """CPU per scrape of bench/floor.c doing only the reads, listings and
    statfs of one sidewatch-node scrape and writing a body of its size."""
    ops, size = scrape_ops(binary, argv)
    work = tempfile.mkdtemp(prefix="sidewatch-floor")
    try:
        exe = os.path.join(work, "floor")
        subprocess.run(["gcc", "-O2", "-o", exe,
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.c")], check=True)
        listing = os.path.join(work, "ops")
        with open(listing, "w") as f:
            f.writelines(f"{kind} {path}\n" for kind, path in ops)
        out = subprocess.run([exe, listing, str(size), str(iterations)], check=True,
                             capture_output=True, text=True).stdout
        return float(out), ops, size
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sidewatch")
    ap.add_argument("--scrapes", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--defaults", action="store_true",
                    help="each exporter's default collectors instead of the shared fifteen")
    args = ap.parse_args()
    peer, peer_version = peer_binary("prometheus-node-exporter", "prometheus-node-exporter", "node_exporter")
    if not peer:
        sys.exit("prometheus-node-exporter: run scripts/fetch-debian.sh sid prometheus-node-exporter")
    print(f"peer: {peer} ({peer_version})")
    if args.defaults:
        common = list(FILTERS)
    else:
        common = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in COLLECTORS] + FILTERS
    log = tempfile.TemporaryFile()
    exporters = {}
    for name, argv in (("sidewatch-node", [args.sidewatch] + common),
                       ("node_exporter", [peer] + common)):
        exporters[name] = start(name, argv, free_port(), log)
    try:
        lat, cpu, mem, size = measure(exporters, args.scrapes, args.warmup)
    finally:
        for p, _ in exporters.values():
            p.terminate()
            p.wait(10)
    print(f"{args.scrapes} interleaved scrapes each, after {args.warmup} warm-up scrapes; "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}; {binary_size(args.sidewatch)}")
    print()
    report(None, exporters, lat, cpu, mem, size, args.scrapes)
    floor_ms, ops, body = floor(args.sidewatch, common)
    ours = cpu["sidewatch-node"] * 1000 / args.scrapes
    kinds = {k: sum(1 for o in ops if o[0] == k) for k in "rpds"}
    print(f"floor (bench/floor.c: {kinds['r']} file opens and reads, {kinds['p']} reads of files kept open, "
          f"{kinds['d']} directory listings, "
          f"{kinds['s']} statfs and a {body}-byte write, as one scrape): {floor_ms:.3f} ms CPU per scrape; "
          f"sidewatch-node {ours:.3f} ms = {ours / floor_ms:.2f}x the floor (target <= 2x)")
    print()

if __name__ == "__main__":
    main()
