#!/usr/bin/env bash
# The production stack proven by running it: docker-compose.yml and the Dockerfile, built from
# this checkout and driven the way a user does (see README, "Deploying"). Run by .ci/run.
#
# 1. Installs what is missing (Debian's docker.io and docker-compose) and starts dockerd.
# 2. Base images: the public ones when present or pullable; otherwise LOCAL STAND-INS built
#    from Debian packages by scripts/standin_images.sh (only when missing, so later runs are
#    quick). The Dockerfile is the production one; only its PYTHON_IMAGE build argument differs.
# 3. Wheels: the hash-pinned requirements.txt downloaded on the host (a build cannot reach PyPI
#    here) into ./wheelhouse/ of the build context, installed with OFFLINE_WHEELS=1.
# 4. scripts/compose_smoke.py runs the steps (build, up, login, snapshots, scaling, restart,
#    down and up, down -v) on a copy of the checkout, under its own compose project name with a
#    generated .env; PostgreSQL and Redis publish no port, so those of the host are untouched.
# Whatever happens, the project is taken down with its volumes and nothing of it may remain.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
START=$SECONDS
PROJECT="${SMOKE_PROJECT:-snapshotdashboardsmoke}"
CACHE="${STANDIN_CACHE:-/var/cache/snapshot-dashboard-standins}"
export STANDIN_CACHE="$CACHE"

say() { printf -- '--- %s\n' "$*"; }
elapsed() { printf '%dm%02ds' $(((SECONDS - START) / 60)) $(((SECONDS - START) % 60)); }
if [ "$(id -u)" != 0 ]; then
  echo "compose smoke test: run it as root (dockerd, apt-get, debootstrap)" >&2
  exit 1
fi

# --- 1. Docker engine and compose -------------------------------------------------------------
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  say "installing Debian's docker.io"
  apt_install docker.io
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/dockerd.log)"
  setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
if docker compose version >/dev/null 2>&1; then
  COMPOSE="docker compose"
else
  if ! command -v docker-compose >/dev/null; then
    say "installing Debian's docker-compose"
    apt_install docker-compose
  fi
  COMPOSE="docker-compose"
fi
compose_version="$($COMPOSE version --short 2>/dev/null || $COMPOSE version | head -1)"
say "engine $(docker version --format '{{.Server.Version}}'), compose $compose_version"

# --- 2. Base images: public, or local stand-ins ------------------------------------------------
PUBLIC=(python:3.12-slim-bookworm postgres:16-alpine redis:7-alpine)
KINDS=(python postgres redis)
BASE=()
say "base images"
for i in 0 1 2; do
  docker image inspect "${PUBLIC[$i]}" >/dev/null 2>&1 && BASE[i]="${PUBLIC[$i]}"
done
if [ "${#BASE[@]}" -lt 3 ]; then
  # One short try tells whether a registry answers at all.
  first_missing=0
  while [ -n "${BASE[$first_missing]:-}" ]; do first_missing=$((first_missing + 1)); done
  if timeout 30 docker pull -q "${PUBLIC[$first_missing]}" >/dev/null 2>&1; then
    for i in 0 1 2; do
      [ -n "${BASE[$i]:-}" ] || docker pull -q "${PUBLIC[$i]}" >/dev/null
      BASE[i]="${PUBLIC[$i]}"
    done
  else
    echo "    no registry answers: local stand-ins (scripts/standin_images.sh) for what is missing"
    wanted=()
    for i in 0 1 2; do [ -n "${BASE[$i]:-}" ] || wanted+=("${KINDS[$i]}"); done
    mapfile -t built < <(bash "$ROOT/scripts/standin_images.sh" "${wanted[@]}")
    [ "${#built[@]}" = "${#wanted[@]}" ] || exit 1
    j=0
    for i in 0 1 2; do
      [ -n "${BASE[$i]:-}" ] || { BASE[i]="${built[$j]}"; j=$((j + 1)); }
    done
  fi
fi
PYTHON_IMAGE="${BASE[0]}" POSTGRES_IMAGE="${BASE[1]}" REDIS_IMAGE="${BASE[2]}"
printf '    %s\n' "$PYTHON_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE"
say "base images ready ($(elapsed))"

# --- 3. The wheelhouse, downloaded on the host --------------------------------------------------
if command -v pyenv >/dev/null 2>&1; then
  PYTHON="${PYTHON:-$(pyenv which python3.12 2>/dev/null || command -v python3.12)}"
else
  PYTHON="${PYTHON:-$(command -v python3.12)}"
fi
wheels="$CACHE/wheelhouse"
stamp="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$wheels/.requirements.sha256" 2>/dev/null)" != "$stamp" ]; then
  say "downloading the wheels of requirements.txt on the host"
  rm -rf "$wheels" && mkdir -p "$wheels"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --require-hashes -r requirements.txt -d "$wheels" >"$CACHE/pip-download.log" 2>&1 \
    || { tail -20 "$CACHE/pip-download.log" >&2; exit 1; }
  echo "$stamp" >"$wheels/.requirements.sha256"
fi

# --- 4. The steps, on a copy of the checkout ----------------------------------------------------
WORK="$(mktemp -d /tmp/compose-smoke.XXXXXX)"
compose() {
  (cd "$WORK" && $COMPOSE -p "$PROJECT" -f docker-compose.yml -f docker-compose.smoke.yml \
    --profile demo "$@")
}
leftovers() {
  local filter="label=com.docker.compose.project=$PROJECT"
  docker ps -aq --filter "$filter"
  docker network ls -q --filter "$filter"
  docker volume ls -q --filter "$filter"
}
remove_leftovers() {
  local filter="label=com.docker.compose.project=$PROJECT"
  docker ps -aq --filter "$filter" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "$filter" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "$filter" | xargs -r docker volume rm >/dev/null
}
cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -f "$WORK/docker-compose.smoke.yml" ]; then
    compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  left="$(leftovers)"
  if [ -n "$left" ]; then
    echo "FAIL: down -v left behind (now removed):" $left >&2
    remove_leftovers
    status=1
  fi
  say "compose smoke test: $([ "$status" = 0 ] && echo passed || echo FAILED) in $(elapsed)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A stack of an interrupted earlier run would hold the names.
[ -z "$(leftovers)" ] || { say "removing what an earlier run left"; remove_leftovers; }

git ls-files -z --cached --others --exclude-standard \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$WORK" -xf -
mkdir -p "$WORK/wheelhouse"
cp "$wheels"/*.whl "$WORK/wheelhouse/"

SMOKE_WORKDIR="$WORK" SMOKE_PROJECT="$PROJECT" SMOKE_COMPOSE="$COMPOSE" \
SMOKE_PYTHON_IMAGE="$PYTHON_IMAGE" SMOKE_POSTGRES_IMAGE="$POSTGRES_IMAGE" \
SMOKE_REDIS_IMAGE="$REDIS_IMAGE" \
  "$PYTHON" "$ROOT/scripts/compose_smoke.py"
