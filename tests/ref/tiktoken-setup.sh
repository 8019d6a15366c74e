# Sourced by the tokenizer parity test and benchmark: makes sure node and the pinned npm
# tiktoken (tests/package-lock.json) are there, installing it with `npm ci` if needed.
# Sets tiktoken_missing to the reason when they cannot be had (empty when all is well).
tiktoken_missing=
tiktoken_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v node >/dev/null; then
    tiktoken_missing="node is not installed"
elif [ ! -d "$tiktoken_top/tests/node_modules/tiktoken" ] &&
    ! npm ci --prefix "$tiktoken_top/tests" --no-audit --no-fund >/dev/null 2>&1; then
    tiktoken_missing="npm ci --prefix tests could not install tiktoken"
elif ! node -e 'require(process.argv[1] + "/tests/node_modules/tiktoken")' "$tiktoken_top" 2>/dev/null; then
    tiktoken_missing="npm package tiktoken does not load"
fi
