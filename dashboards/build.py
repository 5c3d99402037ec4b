#!/usr/bin/env python3
"""Builds the Grafana dashboards in dashboards/json/ (the JSON is committed;
run this after changing a panel). --check fails if the committed JSON differs."""
import json, os, sys
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'json')
DS = {"type": "prometheus", "uid": "${datasource}"}

def variables(job):
    # cluster: the external label each Prometheus of many sets (docs/scale.md);
    # "All" is .*, which also matches series without it (one Prometheus).
    return [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
         "current": {}, "hide": 0},
        {"name": "cluster", "type": "query", "datasource": DS, "label": "Cluster",
         "query": {"query": f'label_values(up{{job=~"{job}"}}, cluster)', "refId": "cluster"},
         "definition": f'label_values(up{{job=~"{job}"}}, cluster)',
         "multi": True, "includeAll": True, "allValue": ".*", "refresh": 2, "current": {}, "hide": 0},
        {"name": "job", "type": "query", "datasource": DS, "label": "Job",
         "query": {"query": f'label_values(up{{cluster=~"$cluster", job=~"{job}"}}, job)', "refId": "job"},
         "definition": f'label_values(up{{cluster=~"$cluster", job=~"{job}"}}, job)',
         "multi": True, "includeAll": True, "allValue": ".+", "refresh": 2, "current": {}, "hide": 0},
        {"name": "instance", "type": "query", "datasource": DS, "label": "Instance",
         "query": {"query": 'label_values(up{cluster=~"$cluster", job=~"$job"}, instance)', "refId": "instance"},
         "definition": 'label_values(up{cluster=~"$cluster", job=~"$job"}, instance)',
         "multi": True, "includeAll": True, "allValue": ".+", "refresh": 2, "current": {}, "hide": 0},
    ]

def panel(pid, title, exprs, unit, kind="timeseries", x=0, y=0, w=12, h=8, legend=None):
    targets = []
    for i, e in enumerate(exprs):
        expr, leg = (e if isinstance(e, tuple) else (e, None))
        # Every selector is narrowed by the cluster variable with the job.
        expr = expr.replace('job=~"$job"', 'cluster=~"$cluster", job=~"$job"')
        t = {"datasource": DS, "expr": expr, "refId": chr(65 + i)}
        if leg:
            t["legendFormat"] = leg
        targets.append(t)
    return {"id": pid, "type": kind, "title": title, "datasource": DS, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, "options": {}}

def row(pid, title, y):
    return {"id": pid, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}

def dashboard(uid, title, job, panels):
    laid = []
    y = 0
    col = 0
    for p in panels:
        if p["type"] == "row":
            if col:
                y += 8; col = 0
            p["gridPos"]["y"] = y
            y += 1
        else:
            p["gridPos"]["x"] = col * 12
            p["gridPos"]["y"] = y
            col += 1
            if col == 2:
                col = 0; y += 8
        laid.append(p)
    return {"uid": uid, "title": title, "tags": ["sidewatch"], "timezone": "browser",
            "schemaVersion": 39, "version": 1, "editable": True, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": variables(job)}, "panels": laid, "annotations": {"list": []}}

S = '{job=~"$job", instance=~"$instance"}'
def sel(extra=''):
    return '{job=~"$job", instance=~"$instance"' + (', ' + extra if extra else '') + '}'

boards = {}
i = iter(range(1, 1000))
boards['sidewatch-fleet'] = dashboard('sidewatch-fleet', 'sidewatch / Fleet overview', 'sidewatch-.*', [
    panel(next(i), 'Targets up', [(f'up{S}', '{{job}} {{instance}}')], 'none', 'stat'),
    panel(next(i), 'Scrape duration', [(f'scrape_duration_seconds{S}', '{{job}} {{instance}}')], 's'),
    panel(next(i), 'Collector failures', [(f'sum by (job, instance, collector) ({{__name__=~"(node|pg|redis|sidewatch_wal|sidewatch_queue)_scrape_collector_success", job=~"$job", instance=~"$instance"}} == bool 0)', '{{job}} {{collector}}')], 'none'),
    panel(next(i), 'Collector duration', [(f'max by (job, collector) ({{__name__=~"(node|pg|redis|sidewatch_wal|sidewatch_queue)_scrape_collector_duration_seconds", job=~"$job", instance=~"$instance"}})', '{{job}} {{collector}}')], 's'),
    panel(next(i), 'Scrape error ratio (5m)', [('job:sidewatch_scrape_errors:ratio_rate5m{job=~"$job"}', '{{job}}')], 'percentunit'),
    panel(next(i), 'Exporter memory', [(f'process_resident_memory_bytes{S}', '{{job}} {{instance}}')], 'bytes'),
])
boards['sidewatch-postgres'] = dashboard('sidewatch-postgres', 'sidewatch / PostgreSQL', 'sidewatch-postgres', [
    panel(next(i), 'Up', [(f'pg_up{S}', '{{instance}}')], 'none', 'stat'),
    panel(next(i), 'Connections by state', [(f'sum by (state) (pg_stat_activity_count{S})', '{{state}}')], 'none'),
    panel(next(i), 'Commits per second', [(f'sum by (datname) (rate(pg_stat_database_xact_commit{S}[$__rate_interval]))', '{{datname}}')], 'ops'),
    panel(next(i), 'Database size', [(f'pg_database_size_bytes{S}', '{{datname}}')], 'bytes'),
    panel(next(i), 'Locks', [(f'sum by (mode) (pg_locks_count{S})', '{{mode}}')], 'none'),
    panel(next(i), 'Longest transaction', [(f'max by (datname) (pg_stat_activity_max_tx_duration{S})', '{{datname}}')], 's'),
    row(next(i), 'Vector indexes', 0),
    panel(next(i), 'Vector index size', [(f'pg_vector_index_size_bytes{S}', '{{indexrelname}} ({{extension}})')], 'bytes'),
    panel(next(i), 'Vector index scans per second', [(f'rate(pg_vector_index_scans_total{S}[$__rate_interval])', '{{indexrelname}}')], 'ops'),
    panel(next(i), 'Vector column dimensions', [(f'pg_vector_column_dimensions{S}', '{{relname}}.{{attname}}')], 'none', 'stat'),
    panel(next(i), 'Vector extensions', [(f'pg_vector_extension_info{S}', '{{datname}} {{extension}} {{version}}')], 'none', 'stat'),
])
boards['sidewatch-redis'] = dashboard('sidewatch-redis', 'sidewatch / Redis', 'sidewatch-redis', [
    panel(next(i), 'Up', [(f'redis_up{S}', '{{instance}}')], 'none', 'stat'),
    panel(next(i), 'Commands per second', [(f'sum by (instance) (rate(redis_commands_processed_total{S}[$__rate_interval]))', '{{instance}}')], 'ops'),
    panel(next(i), 'Memory used', [(f'redis_memory_used_bytes{S}', 'used {{instance}}'), (f'redis_memory_max_bytes{S} > 0', 'max {{instance}}')], 'bytes'),
    panel(next(i), 'Connected clients', [(f'redis_connected_clients{S}', '{{instance}}')], 'none'),
    panel(next(i), 'Keys by database', [(f'redis_db_keys{S} > 0', '{{db}}')], 'none'),
    panel(next(i), 'Hit ratio', [(f'rate(redis_keyspace_hits_total{S}[$__rate_interval]) / (rate(redis_keyspace_hits_total{S}[$__rate_interval]) + rate(redis_keyspace_misses_total{S}[$__rate_interval]))', '{{instance}}')], 'percentunit'),
    panel(next(i), 'Top commands by time', [(f'topk(10, rate(redis_commands_duration_seconds_total{S}[$__rate_interval]))', '{{cmd}}')], 's'),
    panel(next(i), 'Stream group lag', [(f'redis_stream_group_lag{S}', '{{stream}} / {{group}}')], 'none'),
])
boards['sidewatch-node'] = dashboard('sidewatch-node', 'sidewatch / Hosts', 'sidewatch-node', [
    panel(next(i), 'CPU busy', [('instance:node_cpu_utilisation:rate5m{job=~"$job", instance=~"$instance"}', '{{instance}}')], 'percentunit'),
    panel(next(i), 'Load (15m)', [(f'node_load15{S}', '{{instance}}')], 'none'),
    panel(next(i), 'Memory available', [(f'node_memory_MemAvailable_bytes{S}', '{{instance}}')], 'bytes'),
    panel(next(i), 'Filesystem free', [(f'node_filesystem_avail_bytes{sel(chr(102)+"stype!~"+chr(34)+"tmpfs|overlay|squashfs"+chr(34))}', '{{mountpoint}}')], 'bytes'),
    panel(next(i), 'Network received', [(f'rate(node_network_receive_bytes_total{S}[$__rate_interval])', '{{device}}')], 'Bps'),
    panel(next(i), 'Disk busy', [(f'rate(node_disk_io_time_seconds_total{S}[$__rate_interval])', '{{device}}')], 'percentunit'),
    panel(next(i), 'Network links up', [(f'node_network_up{sel(chr(100)+"evice!~"+chr(34)+"lo|veth.+|docker.+|br-.+"+chr(34))}', '{{instance}} {{device}}')], 'none'),
    panel(next(i), 'Network link speed', [(f'node_network_speed_bytes{sel(chr(100)+"evice!~"+chr(34)+"lo|veth.+|docker.+|br-.+"+chr(34))}', '{{instance}} {{device}}')], 'Bps'),
    panel(next(i), 'Network errors and drops', [(f'rate(node_network_receive_errs_total{S}[$__rate_interval]) + rate(node_network_transmit_errs_total{S}[$__rate_interval])', '{{device}} errors'), (f'rate(node_network_receive_drop_total{S}[$__rate_interval]) + rate(node_network_transmit_drop_total{S}[$__rate_interval])', '{{device}} drops')], 'pps'),
    panel(next(i), 'Connection tracking table used', [(f'node_nf_conntrack_entries{S} / node_nf_conntrack_entries_limit{S}', '{{instance}}')], 'percentunit'),
    panel(next(i), 'Clock offset', [(f'node_timex_offset_seconds{S}', '{{instance}}'), (f'node_timex_maxerror_seconds{S}', '{{instance}} max error')], 's'),
    panel(next(i), 'Clock synchronised', [(f'node_timex_sync_status{S}', '{{instance}}')], 'none', 'stat'),
    panel(next(i), 'Text file age', [(f'time() - node_textfile_mtime_seconds{S}', '{{instance}} {{file}}')], 's'),
    panel(next(i), 'Text file errors', [(f'node_textfile_scrape_error{S}', '{{instance}}')], 'none', 'stat'),
])
boards['sidewatch-wal'] = dashboard('sidewatch-wal', 'sidewatch / WAL', 'sidewatch-wal', [
    panel(next(i), 'Directory readable', [(f'sidewatch_wal_up{S}', '{{dir}}')], 'none', 'stat'),
    panel(next(i), 'WAL size', [(f'sidewatch_wal_size_bytes{S}', '{{dir}}')], 'bytes'),
    panel(next(i), 'WAL generation rate', [(f'rate(sidewatch_wal_position_bytes{S}[$__rate_interval])', '{{dir}} tl {{timeline}}')], 'Bps'),
    panel(next(i), 'Archive backlog', [(f'sidewatch_wal_archive_ready_segments{S}', '{{dir}}')], 'none'),
    panel(next(i), 'Oldest unarchived segment', [(f'sidewatch_wal_archive_oldest_ready_age_seconds{S}', '{{dir}}')], 's'),
    panel(next(i), 'Time since last write', [(f'sidewatch_wal_last_write_age_seconds{S}', '{{dir}}')], 's'),
])
boards['sidewatch-queues'] = dashboard('sidewatch-queues', 'sidewatch / Queues', 'sidewatch-queue', [
    panel(next(i), 'Backends up', [(f'sidewatch_queue_up{S}', '{{backend}}')], 'none', 'stat'),
    panel(next(i), 'Depth by state', [(f'sidewatch_queue_depth{S}', '{{queue}} {{state}}')], 'none'),
    panel(next(i), 'Oldest waiting job', [(f'sidewatch_queue_oldest_age_seconds{sel(chr(115)+"tate="+chr(34)+"waiting"+chr(34))}', '{{queue}}')], 's'),
    panel(next(i), 'Consumer lag', [(f'sidewatch_queue_consumer_lag{S}', '{{queue}} / {{group}}')], 'none'),
    panel(next(i), 'Pending (delivered, unacknowledged)', [(f'sidewatch_queue_consumer_pending{S}', '{{queue}} / {{group}}')], 'none'),
    panel(next(i), 'Latency objective misses (1h)', [('queue:sidewatch_queue_latency_errors:ratio_rate1h{job=~"$job"}', '{{queue}}')], 'percentunit'),
])
check = '--check' in sys.argv
stale = []
for uid, b in boards.items():
    path = os.path.join(OUT, uid + '.json')
    text = json.dumps(b, indent=2) + '\n'
    if check:
        if not os.path.exists(path) or open(path).read() != text:
            stale.append(path)
    else:
        with open(path, 'w') as f:
            f.write(text)
if stale:
    sys.exit('out of date (run dashboards/build.py): ' + ', '.join(stale))
