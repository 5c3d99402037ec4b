#!/bin/sh
# The demo workload's text-file half: a stand-in for the nightly job
# (backup, certificate check) that publishes its outcome through the node
# exporter's textfile collector. Once a minute it writes demo_backup.prom
# into TEXTFILE_DIR (/textfile) the way such a job should: to a temporary
# file in the same directory, then renamed into place, so the exporter never
# reads half a file. The text-file panels and alerts have data from it.
set -u
dir=${TEXTFILE_DIR:-/textfile}
mkdir -p "$dir"
echo "demo workload: writing $dir/demo_backup.prom every 60 s"
while :; do
  now=$(date +%s)
  tmp="$dir/.demo_backup.prom.$$"
  cat >"$tmp" <<PROM
# HELP demo_backup_last_success_timestamp_seconds When the demo backup last succeeded.
# TYPE demo_backup_last_success_timestamp_seconds gauge
demo_backup_last_success_timestamp_seconds $now
# HELP demo_backup_size_bytes Size of the demo backup.
# TYPE demo_backup_size_bytes gauge
demo_backup_size_bytes $((1048576 + now % 4096))
PROM
  chmod 644 "$tmp"
  mv "$tmp" "$dir/demo_backup.prom"
  sleep 60
done
