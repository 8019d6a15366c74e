# Sourced by the Parquet tests and benchmark: makes sure node and the pinned npm Parquet
# oracles (DuckDB, hyparquet, hyparquet-writer; tests/package-lock.json) are there, running
# `npm ci` if needed. Sets parquet_missing to the reason when they cannot be had (empty when
# all is well).
parquet_missing=
parquet_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
parquet_load='for (const m of ["@duckdb/node-api", "hyparquet", "hyparquet-compressors"]) require(process.argv[1] + "/tests/node_modules/" + m)'
if ! command -v node >/dev/null; then
    parquet_missing="node is not installed"
elif ! node -e "$parquet_load" "$parquet_top" 2>/dev/null &&
    ! npm ci --prefix "$parquet_top/tests" --no-audit --no-fund >/dev/null 2>&1; then
    parquet_missing="npm ci --prefix tests could not install the Parquet oracles"
elif ! node -e "$parquet_load" "$parquet_top" 2>/dev/null ||
    [ ! -f "$parquet_top/tests/node_modules/hyparquet-writer/package.json" ]; then
    parquet_missing="the npm Parquet oracles (@duckdb/node-api, hyparquet) do not load"
fi
