# Sourced by the tests and benchmarks that check against npm packages (tiktoken, DuckDB,
# hyparquet; pinned in tests/package-lock.json). `npm_oracles MODULE...` makes sure node
# and those packages load, running `npm ci` when they do not, and sets npm_missing to the
# reason when they cannot be had (empty when all is well).
# The suite runs tests in parallel and `npm ci` begins by deleting node_modules, so two
# tests installing at once break each other (a fresh clone in CI failed so): the install
# holds a lock, and a test that waited on it loads what the first one installed.
npm_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
npm_loads() {
    node -e 'for (const m of process.argv.slice(2)) require(process.argv[1] + "/tests/node_modules/" + m)' \
        "$npm_top" "$@" 2>/dev/null
}
npm_oracles() {
    npm_missing=
    if ! command -v node >/dev/null; then
        npm_missing="node is not installed"
        return
    fi
    npm_loads "$@" && return
    if ! (
        flock 9 &&
            { npm_loads "$@" ||
                npm ci --prefix "$npm_top/tests" --no-audit --no-fund >"$npm_top/tests/npm-ci.log" 2>&1; }
    ) 9>"$npm_top/tests/.npm-ci.lock"; then
        npm_missing="npm ci --prefix tests failed (tests/npm-ci.log): $(tail -n 1 "$npm_top/tests/npm-ci.log")"
    elif ! npm_loads "$@"; then
        npm_missing="npm packages do not load: $*"
    fi
}
