#!/usr/bin/env bash
# Ingest through the real `cardbatch submit` against the database's own bulk loader on the same
# file, side by side in one run (absolute figures drift from day to day; the ratio is the
# figure): Postgres `psql \copy` and SQLite `sqlite3 .import --csv`, each into a fresh table that
# holds the file's columns as text with `order_ref` as its primary key. Both sides start from a
# fresh, migrated database, and the disk is synced before every timed step.
#
#   examples/bench_bulk_vs_native.sh [--engine sqlite|postgres|both] [--runs N] [--file F]
#
# Environment (all optional):
#   CARDBATCH_BIN  the release binary (default target/release/cardbatch; build it first:
#                  cargo build --release --bin cardbatch --example gen_orders)
#   GEN_ORDERS     the generator (default target/release/examples/gen_orders), used to write the
#                  file (1,000,000 UQPAY rows) when it does not exist
#   BENCH_PG       PostgreSQL server to create the run's databases on
#                  (default postgres://postgres@127.0.0.1:5432/postgres)
#   BENCH_DIR      where the SQLite files go (default a new temporary directory, removed)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
engine=both
runs=1
file=/tmp/bench_bulk_uq1m.csv
while [ $# -gt 0 ]; do
    case "$1" in
        --engine) engine=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --file) file=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bin=${CARDBATCH_BIN:-$here/target/release/cardbatch}
gen=${GEN_ORDERS:-$here/target/release/examples/gen_orders}
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg%/*}
dir=${BENCH_DIR:-$(mktemp -d /tmp/bench_bulk.XXXXXX)}
native_db=bench_bulk_native_$$
cb_db=bench_bulk_cardbatch_$$

cleanup() {
    psql -q "$pg" -c "DROP DATABASE IF EXISTS $native_db" -c "DROP DATABASE IF EXISTS $cb_db" \
        >/dev/null 2>&1 || true
    [ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

if [ ! -e "$file" ]; then
    "$gen" --provider uqpay --rows 1000000 -o "$file"
fi
rows=$(($(wc -l <"$file") - 1))
header=$(head -1 "$file")
# Every column as text, order_ref the primary key (the loader's equivalent of the dedupe key).
columns=$(echo "$header" | tr ',' '\n' | awk '{ printf "%s%s TEXT%s", (NR > 1 ? ", " : ""), $1, ($1 == "order_ref" ? " PRIMARY KEY" : "") }')
echo "file: $file ($rows rows, $(du -m "$file" | cut -f1) MB); cores: $(nproc); $(date -u +%FT%TZ)"

# Seconds taken by a command (its output discarded, a failure fatal).
timed() {
    sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l | xargs printf '%.2f'
}

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

run_postgres() {
    psql -q "$pg" -c "DROP DATABASE IF EXISTS $native_db" -c "CREATE DATABASE $native_db" \
        -c "DROP DATABASE IF EXISTS $cb_db" -c "CREATE DATABASE $cb_db" >/dev/null
    psql -q "$pg_base/$native_db" -c "CREATE TABLE t ($columns)" >/dev/null
    "$bin" --database-url "$pg_base/$cb_db" migrate >/dev/null
    local native ours
    native=$(timed psql -q "$pg_base/$native_db" -c "\\copy t FROM '$file' CSV HEADER")
    ours=$(timed "$bin" --database-url "$pg_base/$cb_db" submit "$file" --provider uqpay)
    local n
    n=$(psql -tA "$pg_base/$cb_db" -c "SELECT count(*) FROM orders")
    [ "$n" = "$rows" ] || { echo "postgres: $n orders, expected $rows" >&2; exit 1; }
    echo "postgres: psql \\copy ${native} s, cardbatch submit ${ours} s: $(ratio "$ours" "$native")x"
}

run_sqlite() {
    rm -f "$dir"/native.db* "$dir"/cardbatch.db*
    sqlite3 "$dir/native.db" "CREATE TABLE t ($columns)"
    "$bin" --database-url "sqlite://$dir/cardbatch.db" migrate >/dev/null
    local native ours
    native=$(timed sqlite3 "$dir/native.db" ".import --csv --skip 1 '$file' t")
    ours=$(timed "$bin" --database-url "sqlite://$dir/cardbatch.db" submit "$file" --provider uqpay)
    local n
    n=$(sqlite3 "$dir/cardbatch.db" "SELECT count(*) FROM orders")
    [ "$n" = "$rows" ] || { echo "sqlite: $n orders, expected $rows" >&2; exit 1; }
    echo "sqlite: sqlite3 .import ${native} s ($(du -m "$dir/native.db" | cut -f1) MB)," \
        "cardbatch submit ${ours} s ($(du -mc "$dir"/cardbatch.db* | tail -1 | cut -f1) MB):" \
        "$(ratio "$ours" "$native")x"
}

for run in $(seq "$runs"); do
    echo "run $run, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    case "$engine" in
        postgres) run_postgres ;;
        sqlite) run_sqlite ;;
        both) run_postgres; run_sqlite ;;
        *) echo "unknown engine $engine" >&2; exit 2 ;;
    esac
done
