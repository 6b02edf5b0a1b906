#!/bin/sh
# Runs a command in a network namespace of its own that has only a loopback interface, so a
# test that dials a real address by mistake fails with ENETUNREACH instead of reaching a
# network (the differential node:net tests only ever need 127.0.0.1 and ::1). The namespace is
# anonymous (`unshare --net`): it disappears with the command, nothing to delete. Needs root
# (CI runs as root); elsewhere the command runs as is, with a one-line note.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
  && unshare --net true 2>/dev/null; then
  exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' isolated "$@"
fi
echo "isolated.sh: not root or no unshare/ip: running without network isolation" >&2
exec "$@"
