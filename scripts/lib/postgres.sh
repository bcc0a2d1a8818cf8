# A throwaway PostgreSQL cluster for tests and benchmarks, from Debian's packages.
# Source this file, then: pg_start (sets PG_URL to a server URL whose role may create databases)
# and pg_stop (also run on EXIT). initdb refuses to run as root, so as root the cluster runs as
# the `postgres` user.

source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

pg_start() {
  if [ -z "$(pg_bin)" ]; then
    echo "==> installing PostgreSQL from Debian's packages"
    apt_install postgresql
  fi
  PG_BIN="$(pg_bin)"
  [ -n "$PG_BIN" ] || { echo "PostgreSQL server binaries not found after install" >&2; return 1; }
  PG_DIR="$(mktemp -d /tmp/idbridge-pg.XXXXXX)"
  PG_RUN=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    PG_RUN=(runuser -u postgres --)
  fi
  PG_PORT="$(free_port)"
  trap pg_stop EXIT
  echo "==> starting a throwaway PostgreSQL ($("$PG_BIN/postgres" --version)) on 127.0.0.1:$PG_PORT"
  "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U idbridge --auth=trust -E UTF8 >"$PG_DIR/initdb.log"
  # fsync off: the cluster is thrown away afterwards, so durability buys nothing here.
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c max_connections=300" \
    start >/dev/null
  PG_URL="postgres://idbridge@127.0.0.1:$PG_PORT/postgres"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
