#!/bin/sh
# Entrypoint of the test-only Redis image, with the upstream image's
# interface: bare flags or a .conf file are arguments to redis-server, which
# runs as the redis user, owning /data.
set -e
case "$1" in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" "$@"
fi
exec "$@"
