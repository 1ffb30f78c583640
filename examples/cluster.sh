#!/usr/bin/env bash
# The docker-compose topology (docker-compose.yml) as local processes, for machines without a
# container engine: the provider sandbox, one `cardbatch serve` (webhooks, event processor,
# reconciler, schedules) and N `cardbatch worker`s, all on one PostgreSQL database. The same
# configuration as the containers: examples/compose/cardbatch.toml plus CARDBATCH_* variables
# (loopback addresses instead of container names). Runs until Ctrl-C (or SIGTERM), then stops
# every process it started and drops the database it created. tests/e2e/cluster.rs runs it.
#
#   examples/cluster.sh [--workers N] [--submit FILE]...
#
# Environment (all optional):
#   CARDBATCH_BIN         the cardbatch binary (default target/debug/cardbatch, built if missing)
#   CLUSTER_PG            PostgreSQL server to create the run's database on
#                         (default postgres://postgres@127.0.0.1:5432/postgres)
#   CLUSTER_DATABASE_URL  use this database instead of creating one (it is kept)
#   CLUSTER_DIR           where configs and logs go (default a new temporary directory)
#   CLUSTER_JOBS_DIR      the schedules serve fires (default the repository's jobs/)
#   SANDBOX_PORT, SERVE_PORT   loopback ports (default 7070 and 8080)
#   UQPAY_RATE            the UQPAY profile's limit, for all workers together (default 20/s)
#   SANDBOX_RATE          the sandbox's UQPAY limit per credential (default 20/s)
#   KEEP=1                keep the created database
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workers=3
submit=()
while [ $# -gt 0 ]; do
    case "$1" in
        --workers) workers=$2; shift 2 ;;
        --submit) submit+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

bin=${CARDBATCH_BIN:-$here/target/debug/cardbatch}
if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --bin cardbatch)
fi
dir=${CLUSTER_DIR:-$(mktemp -d -t cardbatch-cluster.XXXXXX)}
mkdir -p "$dir"
sandbox_port=${SANDBOX_PORT:-7070}
serve_port=${SERVE_PORT:-8080}
admin=${CLUSTER_PG:-postgres://postgres@127.0.0.1:5432/postgres}
created_db=""
if [ -n "${CLUSTER_DATABASE_URL:-}" ]; then
    db_url=$CLUSTER_DATABASE_URL
else
    created_db="cardbatch_cluster_$(date +%Y%m%d_%H%M%S)_$$"
    psql "$admin" -qc "CREATE DATABASE $created_db"
    db_url="${admin%/*}/$created_db"
fi

pids=()
stop() {
    trap - EXIT INT TERM
    # Workers first (they finish their calls within worker.shutdown_grace_secs), then the rest.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    if [ -n "$created_db" ] && [ -z "${KEEP:-}" ]; then
        psql "$admin" -qc "DROP DATABASE IF EXISTS $created_db WITH (FORCE)" || true
    fi
    echo "cluster stopped; logs in $dir" >&2
}
trap stop EXIT
trap 'exit 0' INT TERM

# Waits until $1 answers 200, or fails if the process ($2, its pid $3) died.
wait_http() {
    for _ in $(seq 1 600); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        if ! kill -0 "$3" 2>/dev/null; then
            echo "cluster.sh: $2 exited; its log ($dir/$2.log):" >&2
            tail -20 "$dir/$2.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "cluster.sh: $2 did not answer $1 within 60 s" >&2
    exit 1
}

cat > "$dir/sandbox.toml" <<TOML
# Written by examples/cluster.sh: UQPAY limited per credential, webhooks to serve.
seed = 42
time_scale = 0.01

[providers.uqpay]
webhook_url = "http://127.0.0.1:$serve_port/webhooks/uqpay"

[providers.uqpay.faults]
rate_limit_per_sec = ${SANDBOX_RATE:-20}.0
TOML

export CARDBATCH_CONFIG="$here/examples/compose/cardbatch.toml"
export CARDBATCH_DATABASE_URL="$db_url"
export CARDBATCH_SERVER__LISTEN="127.0.0.1:$serve_port"
export CARDBATCH_SERVER__PUBLIC_URL="http://127.0.0.1:$serve_port"
export CARDBATCH_JOBS_DIR="${CLUSTER_JOBS_DIR:-$here/jobs}"
export CARDBATCH_PROFILES__UQPAY__BASE_URL="http://127.0.0.1:$sandbox_port/uqpay/api"
export CARDBATCH_PROFILES__UQPAY__RATE_LIMIT_PER_SEC="${UQPAY_RATE:-20}"
export CARDBATCH_LOG="${CARDBATCH_LOG:-info}"
# The sandbox's development credentials unless the caller gives others.
export UQPAY_CLIENT_ID="${UQPAY_CLIENT_ID:-uqpay-sandbox-client}"
export UQPAY_API_KEY="${UQPAY_API_KEY:-uqpay-sandbox-api-key}"
export UQPAY_WEBHOOK_SECRET="${UQPAY_WEBHOOK_SECRET:-uqpay-sandbox-webhook-secret}"

"$bin" sandbox --listen "127.0.0.1:$sandbox_port" --sandbox-config "$dir/sandbox.toml" \
    >"$dir/sandbox.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$sandbox_port/_sandbox/health" sandbox "${pids[-1]}"

"$bin" serve >"$dir/serve.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$serve_port/health" serve "${pids[-1]}"

for i in $(seq 1 "$workers"); do
    "$bin" worker >"$dir/worker-$i.log" 2>&1 &
    pids+=($!)
done

for file in "${submit[@]}"; do
    "$bin" submit "$file" --provider uqpay
done

echo "cluster up: sandbox http://127.0.0.1:$sandbox_port, serve http://127.0.0.1:$serve_port," \
    "$workers workers on $db_url; logs in $dir (Ctrl-C stops)" >&2
# `wait` returns when a signal arrives (then the EXIT trap stops everything) or when every
# process has exited.
wait
