#!/bin/sh
# The demo workload's Redis half: queues of several kinds, fed and drained
# once a second, so every queue and Redis panel has data minutes after
# `docker compose up` (the `demo` profile) or `scripts/stack.sh up`.
#   jobs            a list: 3 pushed, 2 popped, trimmed at 50
#   events          a stream with consumer group `workers`: 2 added, 1 read,
#                   the oldest pending acknowledged past 5, trimmed at 200
#   retry           a sorted set of retries due in 30 s, drained when due
#   bull:emails:*   a queue in BullMQ's layout: waiting -> active -> completed
#   demo:cache:*    reads that hit and miss, for the hit ratio
# Connection: REDIS_HOST (redis), REDIS_PORT (6379), REDISCLI_AUTH (password).
# Runs until stopped; a Redis that goes away is waited for.
set -u
host=${REDIS_HOST:-redis}
port=${REDIS_PORT:-6379}
r() { redis-cli -h "$host" -p "$port" --no-auth-warning "$@"; }

until r ping 2>/dev/null | grep -q PONG; do sleep 1; done
r xgroup create events workers '$' mkstream >/dev/null 2>&1
r hset bull:emails:meta opts.maxLenEvents 10000 version demo >/dev/null
r set demo:cache:hot 1 >/dev/null
echo "demo workload: feeding Redis at $host:$port"

i=0
while :; do
  i=$((i + 1))
  now=$(date +%s)
  now_ms=$(date +%s%3N)
  {
    r lpush jobs "job-$i-a" "job-$i-b" "job-$i-c"
    r rpop jobs 2
    r ltrim jobs 0 49

    r xadd events maxlen '~' 200 '*' n "$i" kind a
    r xadd events maxlen '~' 200 '*' n "$i" kind b
    r xreadgroup group workers c1 count 1 streams events '>'
    pending=$(r --raw xpending events workers - + 100 | awk 'NR % 4 == 1')
    count=$(printf '%s\n' "$pending" | grep -c .)
    if [ "$count" -gt 5 ]; then
      # shellcheck disable=SC2086 # one ID per word
      r xack events workers $(printf '%s\n' "$pending" | head -n $((count - 5)))
    fi

    r zadd retry $((now + 30)) "retry-$i"
    r zremrangebyscore retry -inf "$now"

    id=$(r incr bull:emails:id)
    r hset "bull:emails:$id" name send data '{}' timestamp "$now_ms"
    r lpush bull:emails:wait "$id"
    moved=$(r rpoplpush bull:emails:wait bull:emails:active)
    if [ $((i % 2)) -eq 0 ] && [ -n "$moved" ]; then
      r lrem bull:emails:active 1 "$moved"
      r zadd bull:emails:completed "$now_ms" "$moved"
      r zremrangebyrank bull:emails:completed 0 -101
    fi

    r get demo:cache:hot
    r get "demo:cache:miss-$((i % 7))"
  } >/dev/null 2>&1
  sleep 1
done
