#!/usr/bin/env python3
"""The five exporters under steady scraping, with faults injected, for a while.

A throwaway PostgreSQL 15 and Redis, a WAL directory and a queue file are set
up; every exporter is scraped once a second (scrape timeout 3 s) while a cycle
of faults runs over and over:

  redis stopped (killed) for 10 s, then restarted on the same port
  PostgreSQL SIGSTOPped for 10 s, then SIGCONTed
  PostgreSQL restarted (fast shutdown, started again)
  the WAL directory deleted for 10 s, then recreated with new segments

Resident memory, open file descriptors and connections to the targets are read
after a warm-up (20 s of scrapes and one whole fault cycle) and again at the end (after the last fault has healed). None
may grow: the script exits 1 when an exporter ends with more descriptors or
target connections than it started with, or with resident memory more than
2 MiB above its start. It also fails when the targets do not come back up
after the faults.

Usage: bench/soak.py BIN_DIR [--seconds 600]    (BIN_DIR holds sidewatch-*)
Run as root (PostgreSQL runs as the postgres user) or as a user that can run initdb.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import free_port, memory_kib, start  # noqa: E402
from postgres import PG_BIN, run_as_postgres  # noqa: E402

EXPORTERS = ["node", "postgres", "redis", "wal", "queue"]
SEGMENT = 16 << 20


def redis_cmd(port, *args):
    """One command over a fresh connection; the raw reply, or None if down."""
    payload = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = str(a).encode()
        payload.append(b"$%d\r\n%s\r\n" % (len(a), a))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"".join(payload))
            s.settimeout(2)
            data = b""
            while True:
                chunk = s.recv(65536)
                data += chunk
                if not chunk or data.endswith(b"\r\n"):
                    break
            return data.decode(errors="replace")
    except OSError:
        return None


class Redis:
    def __init__(self, root):
        self.port = free_port()
        self.root = root
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if (redis_cmd(self.port, "PING") or "").startswith("+PONG"):
                redis_cmd(self.port, "RPUSH", "jobs", "a", "b", "c")
                return
            time.sleep(0.05)
        sys.exit("redis did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def connections(self, name):
        reply = redis_cmd(self.port, "CLIENT", "LIST") or ""
        return sum(1 for line in reply.splitlines() if f" name={name} " in line)


class Postgres:
    def __init__(self, root):
        self.root = root
        self.data = os.path.join(root, "data")
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                        "--no-sync"], check=True, stdout=subprocess.DEVNULL, **run_as_postgres())
        self.port = free_port()
        self.proc = None
        self.start()
        self.sql("CREATE TABLE jobs (state text); INSERT INTO jobs VALUES ('waiting'), ('waiting')")

    def start(self):
        self.proc = subprocess.Popen(
            [f"{PG_BIN}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.root,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **run_as_postgres())
        for _ in range(200):
            if self.try_sql("SELECT 1") is not None:
                return
            time.sleep(0.1)
        sys.exit("postgres did not start")

    def try_sql(self, sql):
        r = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-U", "postgres",
                            "-p", str(self.port), "-d", "postgres", "-c", sql],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 else None

    def sql(self, sql):
        out = self.try_sql(sql)
        if out is None:
            sys.exit(f"psql failed: {sql}")
        return out

    def restart(self):
        self.proc.send_signal(signal.SIGINT)  # fast shutdown
        self.proc.wait(timeout=30)
        self.start()

    def connections(self, app):
        out = self.try_sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'")
        return int(out) if out is not None else -1


def fill_wal(path, first):
    os.makedirs(os.path.join(path, "archive_status"), exist_ok=True)
    for i in range(first, first + 3):
        with open(os.path.join(path, f"00000001000000000000{i:04X}"[-24:]), "wb") as f:
            f.truncate(SEGMENT)


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def scrape(url):
    req = urllib.request.Request(url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode(errors="replace")
    except OSError as e:
        return f"# error {e}"


def value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--seconds", type=int, default=600)
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="sidewatch-soak-")
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "redis"))
    redis = Redis(os.path.join(root, "redis"))
    pg_root = os.path.join(root, "pg")
    os.makedirs(pg_root)
    pg = Postgres(pg_root)
    wal = os.path.join(root, "wal")
    fill_wal(wal, 1)
    queues = os.path.join(root, "queues.yml")
    with open(queues, "w") as f:
        f.write(f"""backends:
  - name: cache
    redis: redis://127.0.0.1:{redis.port}
  - name: db
    postgres: postgresql://postgres@127.0.0.1:{pg.port}/postgres?sslmode=disable&application_name=sidewatch-queue
queues:
  - {{ name: jobs, backend: cache, kind: redis_list, key: jobs }}
  - name: pg_jobs
    backend: db
    kind: postgres
    query: SELECT state, count(*) AS depth FROM jobs GROUP BY state
""")
    dsn = f"postgresql://postgres@127.0.0.1:{pg.port}/postgres?sslmode=disable"
    argv = {
        "node": [],
        "postgres": [],
        "redis": [f"--redis.addr=redis://127.0.0.1:{redis.port}"],
        "wal": [f"--wal.dir={wal}", "--wal.rescan-interval=5s"],
        "queue": [f"--config.file={queues}"],
    }
    logs = {n: open(os.path.join(root, f"{n}.log"), "w+b") for n in EXPORTERS}
    env = dict(os.environ, DATA_SOURCE_NAME=dsn)
    procs = {}
    for name in EXPORTERS:
        binary = os.path.join(args.bin_dir, f"sidewatch-{name}")
        procs[name] = start(name, [binary] + argv[name], free_port(), logs[name], env=env)

    def connections(name):
        if name == "postgres":
            return pg.connections("sidewatch-postgres")
        if name == "redis":
            return redis.connections("sidewatch-redis")
        if name == "queue":
            return redis.connections("sidewatch-queue") + pg.connections("sidewatch-queue")
        return 0

    def reading():
        return {n: {"rss_kib": memory_kib(p.pid)["VmRSS"], "fds": fds(p.pid),
                    "conns": connections(n)} for n, (p, _) in procs.items()}

    scrapes = {"n": 0, "failed": 0}

    def tick(seconds):
        """Scrapes every exporter once a second for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            for _, url in procs.values():
                scrapes["n"] += 1
                if scrape(url).startswith("# error"):
                    scrapes["failed"] += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    cycles = 0
    faults = [
        ("redis stopped", lambda: redis.stop(), lambda: redis.start()),
        ("postgres SIGSTOP", lambda: pg.proc.send_signal(signal.SIGSTOP),
         lambda: pg.proc.send_signal(signal.SIGCONT)),
        ("postgres restarted", lambda: pg.restart(), lambda: None),
        ("wal dir deleted", lambda: shutil.rmtree(wal), lambda: fill_wal(wal, 16 + cycles)),
    ]

    def cycle():
        for _, inject, heal in faults:
            inject()
            tick(10)
            heal()
            tick(5)

    # Warm-up: steady scrapes and one whole fault cycle, so that every code
    # path (error paths included) has run once before the first reading.
    tick(20)
    cycle()
    cycles += 1
    tick(10)
    start_reading = reading()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        cycle()
        cycles += 1
    tick(20)  # healed: connections settle, rescans run
    end_reading = reading()

    ups = {"postgres": value(scrape(procs["postgres"][1]), "pg_up"),
           "redis": value(scrape(procs["redis"][1]), "redis_up")}
    queue_text = scrape(procs["queue"][1])
    ups["queue"] = min(v for v in (
        value(queue_text, 'sidewatch_queue_up{backend="cache"}'),
        value(queue_text, 'sidewatch_queue_up{backend="db"}')) if v is not None)

    print(f"{args.seconds} s, {cycles} fault cycles ({', '.join(f[0] for f in faults)}), "
          f"{scrapes['n']} scrapes, {scrapes['failed']} without an HTTP answer\n")
    print("| exporter | RSS KiB start | RSS KiB end | fds start | fds end | "
          "target connections start | end | up at the end |")
    print("|---|---|---|---|---|---|---|---|")
    grew = []
    for name in EXPORTERS:
        s, e = start_reading[name], end_reading[name]
        up = ups.get(name)
        print(f"| sidewatch-{name} | {s['rss_kib']} | {e['rss_kib']} | {s['fds']} | {e['fds']} | "
              f"{s['conns']} | {e['conns']} | {'' if up is None else int(up)} |")
        if e["fds"] > s["fds"] or e["conns"] > s["conns"] or e["rss_kib"] > s["rss_kib"] + 2048:
            grew.append(name)
        if up is not None and up != 1:
            grew.append(f"{name} (not up)")
    for p, _ in procs.values():
        p.terminate()
    for p, _ in procs.values():
        p.wait(timeout=10)
    redis.stop()
    pg.proc.send_signal(signal.SIGINT)
    pg.proc.wait(timeout=30)
    if grew:
        print(f"\ngrew or did not recover: {', '.join(grew)} (logs in {root})")
        sys.exit(1)
    shutil.rmtree(root, ignore_errors=True)
    print("\nnothing grew")


if __name__ == "__main__":
    main()
