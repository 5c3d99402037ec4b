#!/usr/bin/env python3
"""sidewatch-postgres vs postgres_exporter, side by side, interleaved, in one run.

A throwaway PostgreSQL 15 cluster is created with DATABASES databases of
TABLES tables each. Two scenarios run, each with both exporters on the same
cluster, scrapes alternating between them:

  default    default collectors of each, watching one database
  alldbs     the same custom queries file in every database: sidewatch's
             --auto-discover-databases vs the peer's --auto-discover-databases,
             default metrics off in both

Reported per exporter: median / p90 scrape latency, CPU per scrape
(utime+stime / scrapes), resident memory after the run and its peak.

Usage: bench/postgres.py SIDEWATCH_BINARY [--scrapes N] [--databases N] [--tables N]
Run as root (the server runs as the postgres user) or as a user that can run initdb.
"""
import argparse
import os
import pwd
import re
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import binary_size, free_port, peer_binary, measure, report, scrape, start  # noqa: E402

PG_BIN = os.environ.get("SIDEWATCH_PG_BIN", "/usr/lib/postgresql/15/bin")
QUERIES = """\
app_tables:
  query: |
    SELECT current_database() AS datname, schemaname, relname,
           seq_scan, n_live_tup, n_dead_tup, n_tup_ins
    FROM pg_stat_user_tables
  metrics:
    - datname: {usage: LABEL, description: "database"}
    - schemaname: {usage: LABEL, description: "schema"}
    - relname: {usage: LABEL, description: "table"}
    - seq_scan: {usage: COUNTER, description: "sequential scans"}
    - n_live_tup: {usage: GAUGE, description: "live rows"}
    - n_dead_tup: {usage: GAUGE, description: "dead rows"}
    - n_tup_ins: {usage: COUNTER, description: "rows inserted"}
"""


def run_as_postgres():
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")

    def demote():
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return {"preexec_fn": demote}


def psql(port, db, sql):
    subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", str(port),
                    "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def start_cluster(root, databases, tables):
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"],
                   check=True, stdout=subprocess.DEVNULL, **run_as_postgres())
    port = free_port()
    # Every statement is logged with its duration and application name, so
    # that the statements sidewatch-postgres runs can be timed alone after.
    server_log = open(os.path.join(root, "server.log"), "wb")
    server = subprocess.Popen([f"{PG_BIN}/postgres", "-D", data, "-p", str(port), "-k", root,
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                               "-c", "max_connections=200", "-c", "log_min_duration_statement=0",
                               "-c", "log_line_prefix=%a|"],
                              stdout=subprocess.DEVNULL, stderr=server_log, **run_as_postgres())
    for _ in range(100):
        if subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-p", str(port),
                           "-d", "postgres", "-c", "SELECT 1"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    for i in range(databases):
        db = f"bench{i}"
        psql(port, "postgres", f"CREATE DATABASE {db}")
        psql(port, db, f"DO $$ BEGIN FOR i IN 1..{tables} LOOP "
                       f"EXECUTE format('CREATE TABLE t%s (id int); INSERT INTO t%s VALUES (1)', i, i); "
                       f"END LOOP; END $$")
    return server, port


def statements_since(log_path, offset, application="sidewatch-postgres"):
    """The distinct statements `application` ran, from the server log after
    `offset` (log_min_duration_statement=0 logs each with its duration)."""
    stmts, current = [], None
    with open(log_path, errors="replace") as f:
        f.seek(offset)
        for line in f:
            if line.startswith("\t") and current is not None:
                current.append(line[1:].rstrip("\n"))
                continue
            if current is not None:
                stmts.append("\n".join(current))
                current = None
            if line.startswith(application + "|"):
                m = re.search(r"duration: [0-9.]+ ms  (?:statement|execute [^:]*): (.*)", line)
                if m:
                    current = [m.group(1)]
    if current is not None:
        stmts.append("\n".join(current))
    # A statement sidewatch-postgres prepared is logged once per connection
    # as `PREPARE sw_N AS <statement>`, then as `EXECUTE sw_N`: the
    # statement is what the PREPARE names.
    stmts = [re.sub(r"^PREPARE sw_[0-9]+ AS ", "", s) for s in stmts
             if not re.search(r"(^|; )EXECUTE sw_[0-9]+$", s)]
    return list(dict.fromkeys(s for s in stmts if s.strip()))


def alone(port, db, statement, runs=20):
    """Median round trip of one query (as sidewatch-postgres sends it: its
    SETs and SELECT in one simple-protocol message) run by itself on an open
    connection, by psql's \\timing; None when it does not run alone (it
    takes parameters)."""
    out = subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", str(port),
                          "-d", db, "-o", "/dev/null", "-c", "\\timing on"] + ["-c", statement] * runs,
                         capture_output=True, text=True)
    times = [float(t) for t in re.findall(r"Time: ([0-9.]+) ms", out.stdout)]
    return statistics.median(times) if len(times) == runs else None


def slowest_alone(port, db, log_path, offset):
    """The slowest of sidewatch-postgres's statements, each run alone."""
    timed = [(t, s) for s in statements_since(log_path, offset)
             if (t := alone(port, db, s)) is not None]
    return max(timed) if timed else (None, None), len(timed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sidewatch")
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--databases", type=int, default=10)
    ap.add_argument("--tables", type=int, default=50)
    args = ap.parse_args()
    peer, peer_version = peer_binary("prometheus-postgres-exporter", "prometheus-postgres-exporter", "postgres_exporter")
    if not peer:
        sys.exit("prometheus-postgres-exporter: run scripts/fetch-debian.sh sid prometheus-postgres-exporter")
    print(f"peer: {peer} ({peer_version})")
    root = tempfile.mkdtemp(prefix="sidewatch-bench-pg")
    server, port = start_cluster(root, args.databases, args.tables)
    queries = os.path.join(root, "queries.yaml")
    with open(queries, "w") as f:
        f.write(QUERIES)
    os.chmod(root, 0o755)
    os.chmod(queries, 0o644)
    env = dict(os.environ,
               DATA_SOURCE_NAME=f"postgresql://postgres@127.0.0.1:{port}/bench0?sslmode=disable")
    log = tempfile.TemporaryFile()
    print(f"{args.scrapes} interleaved scrapes each, after {args.warmup} warm-up scrapes; "
          f"{args.databases} databases x {args.tables} tables; {os.cpu_count()} CPUs; "
          f"{time.strftime('%Y-%m-%d')}; {binary_size(args.sidewatch)}")
    print()
    alldbs = ["--auto-discover-databases", "--disable-default-metrics", "--disable-settings-metrics",
              f"--extend.query-path={queries}", "--exclude-databases=postgres"]
    # The peer's own collectors (0.19's defaults) off too, so that both run
    # only the custom queries, in every database.
    peer_alldbs = alldbs + [f"--no-collector.{c}" for c in (
        "database", "locks", "replication", "replication_slot", "roles", "stat_bgwriter",
        "stat_database", "stat_progress_vacuum", "stat_user_tables", "statio_user_tables", "wal")]
    scenarios = [
        # Since 0.19 the peer's defaults include the per-table collectors:
        # both answer about the same families (bodies within a few percent).
        ("default collectors of each, one database", [], []),
        (f"custom queries in all {args.databases} databases, sidewatch at its default 3 connections",
         alldbs + ["--no-collector.vector"], peer_alldbs),
        (f"custom queries in all {args.databases} databases, sidewatch allowed as many connections as the peer holds",
         alldbs + ["--no-collector.vector", f"--pg.max-connections={args.databases}"], peer_alldbs),
    ]
    server_log = os.path.join(root, "server.log")
    try:
        for title, ours, theirs in scenarios:
            offset = os.path.getsize(server_log)
            exporters = {
                "sidewatch-postgres": start("sidewatch-postgres", [args.sidewatch] + ours, free_port(), log, env),
                "postgres_exporter": start("postgres_exporter", [peer] + theirs, free_port(), log, env),
            }
            try:
                lat, cpu, mem, size = measure(exporters, args.scrapes, args.warmup)
                with urllib.request.urlopen(exporters["sidewatch-postgres"][1]) as r:
                    durations = "\n".join(l for l in r.read().decode().splitlines()
                                          if l.startswith("pg_scrape_collector_duration"))
            finally:
                for p, _ in exporters.values():
                    p.terminate()
                    p.wait(10)
            report(title, exporters, lat, cpu, mem, size, args.scrapes)
            if "one database" in title:
                (slowest, statement), count = slowest_alone(port, "bench0", server_log, offset)
                if not slowest:
                    print(f"floor: no statement of sidewatch-postgres could be timed alone ({count})")
                else:
                    ours = statistics.median(lat["sidewatch-postgres"]) * 1000
                    first = " ".join(statement.split())[:70]
                    print(f"floor: the slowest of the {count} statements sidewatch-postgres ran, "
                          f"each run alone {20} times on an open connection: {slowest:.2f} ms "
                          f"(`{first}...`); sidewatch-postgres's median scrape {ours:.2f} ms = "
                          f"{ours / slowest:.2f}x that")
                    print()
            if os.environ.get("BENCH_DURATIONS"):
                print(durations)
    finally:
        server.send_signal(2)  # fast shutdown
        server.wait(60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
