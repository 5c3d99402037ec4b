#!/bin/sh
# Entrypoint of the test-only Valkey image, with the upstream image's
# interface: bare flags or a .conf file are arguments to valkey-server, which
# runs as the valkey user, owning /data.
set -e
case "$1" in
  -*|*.conf) set -- valkey-server "$@" ;;
esac
if [ "$1" = valkey-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user valkey -exec chown valkey '{}' + 2>/dev/null || true
  exec setpriv --reuid=valkey --regid=valkey --init-groups -- "$0" "$@"
fi
exec "$@"
