#!/usr/bin/env bash
# Validates docker-compose.yml with `docker-compose config` (the Python implementation, which
# needs no Docker engine), using .env.example with its blanks filled in.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.run/compose-venv
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/docker-compose" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet "cython<3" wheel setuptools
  # PyYAML 5.4 (what docker-compose 1.29 needs) only builds with Cython 2.
  "$venv/bin/pip" install --quiet --no-build-isolation pyyaml==5.4.1
  "$venv/bin/pip" install --quiet docker-compose==1.29.2
fi
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cp docker-compose.yml "$workdir/"
sed -e 's/^SECRET_KEY=$/SECRET_KEY=check/' -e 's/^VPS_API_TOKEN=$/VPS_API_TOKEN=check/' \
    -e 's/^POSTGRES_PASSWORD=$/POSTGRES_PASSWORD=check/' .env.example > "$workdir/.env"
(cd "$workdir" && "$OLDPWD/$venv/bin/docker-compose" config --quiet)
services="$(cd "$workdir" && "$OLDPWD/$venv/bin/docker-compose" --profile demo config --services | sort | tr '\n' ' ')"
# With DASHBOARD_BIND_ADDRESS unset, the web port is published on loopback only.
sed -i '/^DASHBOARD_BIND_ADDRESS=/d' "$workdir/.env"
published="$(cd "$workdir" && "$OLDPWD/$venv/bin/docker-compose" config \
  | sed -n '/^  web:/,/^  [a-z]/p' | grep -oE '[0-9.]+:[0-9]+:8000' | tr '\n' ' ')"
case "$published" in
  *127.0.0.1*) ;;
  *) echo "the web port is not bound to 127.0.0.1 by default: $published" >&2; exit 1 ;;
esac
echo "docker-compose.yml is valid; services: $services; web published on: $published"
