#!/usr/bin/env python3
"""Several sidewatch-postgres builds (or flag sets) and the peer, scraped in
turn on one cluster: which of two changes is faster, in one run.

Starts a throwaway cluster as bench/postgres.py does (DATABASES databases of
TABLES tables), then every exporter given plus postgres_exporter against its
bench0 database. Each round scrapes them in turn SCRAPES times after a
warm-up and prints each one's median latency; ROUNDS rounds. An exporter is
BINARY or BINARY,FLAG,FLAG... (for example
`bin/sidewatch-postgres,--no-collector.settings`). With --pause S, each
scrape is followed by a pause of S seconds.

With --openmetrics, every scrape asks for OpenMetrics first, as
Prometheus's Accept header does.

Usage: bench/pg_ab.py EXPORTER... [--rounds N] [--scrapes N] [--pause S]
                      [--databases N] [--tables N] [--openmetrics]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import free_port, peer_binary, scrape, start  # noqa: E402
from postgres import start_cluster  # noqa: E402


# What Prometheus sends: OpenMetrics first, the classic text format after.
OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.6,"
                      "application/openmetrics-text;version=0.0.1;q=0.5,"
                      "text/plain;version=0.0.4;q=0.2,*/*;q=0.1")


def scrape_as(url, accept):
    """Seconds one scrape took and the body's size, with `accept` if given."""
    if accept is None:
        return scrape(url)
    start_t = time.perf_counter()
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return time.perf_counter() - start_t, len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exporters", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scrapes", type=int, default=150)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--databases", type=int, default=10)
    ap.add_argument("--tables", type=int, default=50)
    ap.add_argument("--openmetrics", action="store_true",
                    help="ask for OpenMetrics first, as Prometheus does")
    args = ap.parse_args()
    accept = OPENMETRICS_ACCEPT if args.openmetrics else None
    peer, version = peer_binary("prometheus-postgres-exporter", "prometheus-postgres-exporter",
                                "postgres_exporter")
    if not peer:
        sys.exit("prometheus-postgres-exporter: run scripts/fetch-debian.sh sid prometheus-postgres-exporter")
    root = tempfile.mkdtemp(prefix="sidewatch-bench-pg-ab")
    server, port = start_cluster(root, args.databases, args.tables)
    os.chmod(root, 0o755)
    env = dict(os.environ,
               DATA_SOURCE_NAME=f"postgresql://postgres@127.0.0.1:{port}/bench0?sslmode=disable")
    log = tempfile.TemporaryFile()
    print(f"peer {version}; {args.databases} databases x {args.tables} tables; "
          f"{args.scrapes} scrapes each per round; pause {args.pause} s; {time.strftime('%Y-%m-%d')}")
    exporters = {}
    try:
        for spec in args.exporters:
            argv = spec.split(",")
            exporters[spec] = start("sidewatch-postgres", argv, free_port(), log, env)
        exporters["postgres_exporter"] = start("postgres_exporter", [peer], free_port(), log, env)
        for r in range(args.rounds):
            lat = {n: [] for n in exporters}
            for _ in range(5):
                for _, url in exporters.values():
                    scrape_as(url, accept)
            for _ in range(args.scrapes):
                for n, (_, url) in exporters.items():
                    t, _ = scrape_as(url, accept)
                    lat[n].append(t)
                    if args.pause:
                        time.sleep(args.pause)
            print(f"round {r + 1}: " + ", ".join(
                f"{os.path.basename(n)} {statistics.median(v) * 1000:.2f} ms" for n, v in lat.items()),
                flush=True)
    finally:
        for p, _ in exporters.values():
            p.terminate()
            p.wait(10)
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
