#!/usr/bin/env bash
# Runs a built image for real without a container runtime: its root filesystem (buildah mount)
# becomes a chroot, entered as the image's user, on the host's network, against the local
# PostgreSQL and Redis. Checks, in order: migrate, the image's own command serves, /readyz is
# 200, a flag written and read back through the API, and a stream receiving the change.
# Usage: docker/image-test.sh IMAGE   (root; PostgreSQL at PGURL, Redis at REDIS_URL)
set -euo pipefail

image=${1:?image name}
pg_admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379/0}
storage=(--storage-driver vfs)
database=sidekick_image_test_$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sdk_key=sk-image-test-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
work=$(mktemp -d)
server_pid=""
stream_pid=""

step() { printf '\n== %s\n' "$*"; }

container=$(buildah "${storage[@]}" from "$image")
root=$(buildah "${storage[@]}" mount "$container")
cleanup() {
  [ -n "$stream_pid" ] && kill "$stream_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  umount "$root/proc" "$root/dev" 2>/dev/null || true
  in_image python -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute('DROP DATABASE IF EXISTS $database WITH (FORCE)')" "$pg_admin" 2>/dev/null || true
  buildah "${storage[@]}" umount "$container" >/dev/null 2>&1 || true
  buildah "${storage[@]}" rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"

# The image's configuration: its user, working directory and environment, as a runtime would.
user=$(buildah "${storage[@]}" inspect --format '{{.OCIv1.Config.User}}' "$image")
[[ $user == *:* ]] || user=$user:$user
workdir=$(buildah "${storage[@]}" inspect --format '{{.OCIv1.Config.WorkingDir}}' "$image")
mapfile -t image_env < <(buildah "${storage[@]}" inspect --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$image" | sed '/^$/d')
command=$(buildah "${storage[@]}" inspect --format '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$image")
run_env=("${image_env[@]}" "DATABASE_URL=${pg_admin%/*}/$database" "REDIS_URL=$redis_url"
  "DJANGO_SECRET_KEY=$(head -c 48 /dev/urandom | base64)" "ALLOWED_HOSTS=127.0.0.1"
  "SDK_KEY=$sdk_key" "HOME=/var/lib/sidekick")

in_image() { # in_image COMMAND...: runs in the image's root, as its user, in its directory
  chroot --userspec="$user" "$root" /usr/bin/env -i "${run_env[@]}" \
    /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}

step "image $image: user $user, command: $command"
id_line=$(in_image id)
echo "$id_line"
[[ $id_line == "uid=${user%%:*}("* ]] || { echo "not running as the image's user"; exit 1; }
if in_image sh -c 'for tool in gcc cc c++ make; do command -v "$tool" && exit 0; done; exit 1'; then
  echo "a compiler or build tool is in the runtime image"; exit 1
fi
echo "no gcc, cc, c++ or make in the image"
echo "health check: $(buildah "${storage[@]}" inspect --format '{{.Docker.Config.Healthcheck.Test}}' "$image")"

step "create database $database"
in_image python -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute('CREATE DATABASE $database')" "$pg_admin"

step "migrate"
in_image python manage.py migrate --no-input

step "serve: the image's command on port $port"
# The command as the image states it, on a free port of this host.
read -r -a argv <<<"${command//port=8000/port=$port}"
# Started as a simple command, not through the in_image function: a backgrounded function runs in
# a subshell, and $! would name that subshell instead of the server (which then outlives cleanup).
chroot --userspec="$user" "$root" /usr/bin/env -i "${run_env[@]}" \
  /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "${argv[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 300); do
  code=$(curl -s -o "$work/readyz" -w '%{http_code}' "$base/readyz" || true)
  [ "$code" = 200 ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
echo "GET /readyz -> $code $(cat "$work/readyz")"
[ "$code" = 200 ] || { cat "$work/server.log"; exit 1; }

step "a stream, then a flag written and read through the API"
auth=(-H "Authorization: Bearer $sdk_key")
curl -sN "${auth[@]}" "$base/stream" >"$work/stream" &
stream_pid=$!
for _ in $(seq 1 100); do grep -q '^event: ready' "$work/stream" && break; sleep 0.1; done
grep -q '^event: ready' "$work/stream" || { echo "the stream sent no ready event"; exit 1; }
created=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' -X POST "$base/api/flags" \
  -d '{"key": "image_test", "is_enabled": true, "rollout_percentage": 25}')
echo "POST /api/flags -> $created"
read_back=$(curl -s "${auth[@]}" "$base/api/flags/image_test")
echo "GET /api/flags/image_test -> $read_back"
[[ $read_back == *'"rollout_percentage":25'* ]] || { echo "the flag did not read back"; exit 1; }
for _ in $(seq 1 100); do grep -q '"key":"image_test"' "$work/stream" && break; sleep 0.1; done
event=$(grep -m1 '"key":"image_test"' "$work/stream" || true)
echo "stream received: $event"
[ -n "$event" ] || { echo "the stream did not receive the change"; cat "$work/server.log"; exit 1; }

step "server log (last lines)"
tail -n 8 "$work/server.log"
step "image-test passed"
