#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Linux machine that has only
# Node.js 20 and npm: the pinned pnpm (Corepack cannot fetch it here), the workspace's
# packages, and the Debian tools the end-to-end tests drive (iproute2, ping, python3, curl,
# tshark; setpriv, setcap, mount and mknod (util-linux, libcap2-bin, mount, coreutils) for the
# least-privilege tests).
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null || [ "$(pnpm -v 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "bootstrap: installing pnpm@$PNPM_VERSION" >&2
  npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
fi
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
command -v tshark >/dev/null || missing+=(tshark)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v setcap >/dev/null || missing+=(libcap2-bin)
command -v mount >/dev/null || missing+=(mount)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "bootstrap: missing ${missing[*]} (install them, or run as root on Debian)" >&2
  fi
fi
pnpm install --frozen-lockfile --reporter=append-only >&2
