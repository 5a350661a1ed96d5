#!/usr/bin/env bash
# LOCAL STAND-INS for the public base images, for machines that cannot reach a container
# registry (the compose smoke test's CI machine). Each is built from Debian bookworm packages
# with debootstrap and `docker import`, only when it is missing, and named so that it can never
# be mistaken for the real image:
#
#   snapshot-dashboard-standin/python:3.12-bookworm   instead of python:3.12-slim-bookworm
#   snapshot-dashboard-standin/postgres:15-bookworm   instead of postgres:16-alpine
#   snapshot-dashboard-standin/redis:7-bookworm       instead of redis:7-alpine
#
# Python: Debian bookworm ships 3.11 only, and no registry or python.org download is reachable
# from these machines, so the stand-in carries the host's own CPython 3.12 build (pyenv's, found
# with `pyenv which python3.12`, or $STANDIN_PYTHON): a bookworm build on a bookworm root file
# system, so its shared libraries match. Its test suite, IDLE, Tk and the static library are
# left out; of its site-packages only pip is kept (python:3.12-slim has pip too).
# PostgreSQL: bookworm ships 15, not 16; its entrypoint honours POSTGRES_DB, POSTGRES_USER,
# POSTGRES_PASSWORD and PGDATA (/var/lib/postgresql/data) as the official image does.
# Redis: bookworm's 7.0; like the official image it turns protected mode off (the port is only
# reachable on the compose network).
#
# Usage: scripts/standin_images.sh python|postgres|redis ...   (prints each image's name)
# Needs root (debootstrap, chroot) and Debian's mirror, reached from the host.
set -euo pipefail

# Bump when a recipe below changes, so that an image built from the old one is not reused.
RECIPE=r1
CACHE="${STANDIN_CACHE:-/var/cache/snapshot-dashboard-standins}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
declare -A IMAGE=(
  [python]="snapshot-dashboard-standin/python:3.12-bookworm-$RECIPE"
  [postgres]="snapshot-dashboard-standin/postgres:15-bookworm-$RECIPE"
  [redis]="snapshot-dashboard-standin/redis:7-bookworm-$RECIPE"
)
LABEL='org.opencontainers.image.description="Local stand-in built by scripts/standin_images.sh"'

log() { echo "    [stand-in] $*" >&2; }

# A minimal bookworm root file system, bootstrapped once and kept as a tarball.
base_tarball() {
  local tarball="$CACHE/bookworm-minbase-$RECIPE.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || {
      log "installing Debian's debootstrap"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    log "debootstrap bookworm (minbase) into $CACHE, once"
    mkdir -p "$CACHE/debs"
    local root="$CACHE/rootfs-base"
    rm -rf "$root"
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" bookworm "$root" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$root"
  fi
  echo "$tarball"
}

# A fresh copy of the base in $1, ready for apt-get (no service is started in it).
rootfs_fresh() {
  local root="$1"
  rm -rf "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$(base_tarball)"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

# Installs the Debian packages $2... in the root file system $1.
rootfs_install() {
  local root="$1"
  shift
  chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $*" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; exit 1; }
}

# Empties caches and documentation, then imports the tree as image $2 with the Dockerfile
# instructions $3... (through a build FROM the imported tree: `docker import --change` knows
# no STOPSIGNAL).
import_rootfs() {
  local root="$1" image="$2"
  shift 2
  rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/tmp/*
  tar -C "$root" -c . | docker import - "$image-rootfs" >/dev/null
  {
    echo "FROM $image-rootfs"
    echo "LABEL $LABEL"
    printf '%s\n' "$@"
  } | docker build --quiet --tag "$image" - >"$root.log" 2>&1 || { cat "$root.log" >&2; exit 1; }
  docker rmi "$image-rootfs" >/dev/null
  rm -rf "$root" "$root.log"
}

build_python() {
  local python="${STANDIN_PYTHON:-}"
  if [ -z "$python" ] && command -v pyenv >/dev/null; then
    python="$(pyenv which python3.12 2>/dev/null || true)"
  fi
  python="${python:-$(command -v python3.12 || true)}"
  [ -n "$python" ] || { log "no Python 3.12 on this host to put in the stand-in"; exit 1; }
  local prefix version
  prefix="$("$python" -c 'import sys; print(sys.base_prefix)')"
  version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [ "$version" = 3.12 ] || { log "$python is Python $version, not 3.12"; exit 1; }
  log "python: bookworm's libraries and the CPython 3.12 of $prefix"
  local root="$CACHE/rootfs-python"
  rootfs_fresh "$root"
  rootfs_install "$root" ca-certificates netbase tzdata libssl3 libffi8 libsqlite3-0 libbz2-1.0 \
    liblzma5 libreadline8 libncursesw6 libuuid1 libexpat1 zlib1g libnsl2 libtirpc3 libgdbm6
  local lib="lib/python3.12"
  tar -C "$prefix" --exclude="./$lib/test" --exclude="./$lib/idlelib" \
    --exclude="./$lib/tkinter" --exclude="./$lib/turtledemo" --exclude="./$lib/site-packages" \
    --exclude='*.a' --exclude='./bin/idle*' --exclude='./bin/2to3*' -cf - . \
    | tar -C "$root/usr/local" -xf -
  mkdir -p "$root/usr/local/$lib/site-packages"
  cp -a "$prefix/$lib/site-packages/"pip "$prefix/$lib/site-packages/"pip-*.dist-info \
    "$root/usr/local/$lib/site-packages/"
  chroot "$root" ldconfig
  chroot "$root" /usr/local/bin/python3.12 -c 'import ssl, sqlite3, ctypes, zlib, venv, pip' \
    || { log "the copied Python does not start in the stand-in"; exit 1; }
  import_rootfs "$root" "${IMAGE[python]}" \
    "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV LANG=C.UTF-8" 'CMD ["python3"]'
}

build_postgres() {
  log "postgres: bookworm's postgresql-15"
  local root="$CACHE/rootfs-postgres"
  rootfs_fresh "$root"
  # No cluster of Debian's own: the entrypoint creates the one the environment asks for.
  mkdir -p "$root/etc/postgresql-common"
  echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"
  rootfs_install "$root" postgresql-15
  mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chroot "$root" chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
  chmod 700 "$root/var/lib/postgresql/data"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in for the official image's entrypoint: initialises PGDATA on first start from
# POSTGRES_USER (default postgres), POSTGRES_PASSWORD and POSTGRES_DB (default: the user).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "stand-in entrypoint: database $db of user $user initialised in $PGDATA"
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_rootfs "$root" "${IMAGE[postgres]}" \
    "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV PGDATA=/var/lib/postgresql/data" "ENV LANG=C.UTF-8" "USER postgres" \
    "VOLUME /var/lib/postgresql/data" "STOPSIGNAL SIGINT" "EXPOSE 5432" \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]'
}

build_redis() {
  log "redis: bookworm's redis-server 7"
  local root="$CACHE/rootfs-redis"
  rootfs_fresh "$root"
  rootfs_install "$root" redis-server
  mkdir -p "$root/data"
  chroot "$root" chown redis:redis /data
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official image does: protected mode off unless asked for (no port is published).
set -eu
if [ "${1:-}" = redis-server ]; then
  case " $* " in *" --protected-mode "*) ;; *) set -- "$@" --protected-mode no ;; esac
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_rootfs "$root" "${IMAGE[redis]}" "USER redis" "WORKDIR /data" "EXPOSE 6379" \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["redis-server"]'
}

mkdir -p "$CACHE"
missing=()
for kind in "$@"; do
  [ -n "${IMAGE[$kind]:-}" ] || { log "unknown stand-in $kind (python|postgres|redis)"; exit 2; }
  docker image inspect "${IMAGE[$kind]}" >/dev/null 2>&1 || missing+=("$kind")
done
if [ "${#missing[@]}" -gt 0 ]; then
  base_tarball >/dev/null
  # The builds mostly wait for Debian's mirror: side by side they take as long as the longest.
  pids=()
  for kind in "${missing[@]}"; do
    "build_$kind" &
    pids+=($!)
  done
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || exit 1
fi
for kind in "$@"; do echo "${IMAGE[$kind]}"; done
