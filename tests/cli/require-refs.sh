#!/usr/bin/env bash
# GPT2_REQUIRE_REFS=1 (.ci/run sets it) turns a missing independent reference into a
# failure, so that CI cannot go green without the checks that matter most; without the
# switch the same test skips. Each test below runs with its reference taken off PATH:
# node (tiktoken), mpirun, gnuplot, and zstd(1) for a one-line skip (skip_ref_test).
. "$(dirname "$0")/../lib.sh"

# a PATH that has everything this one has but those programs: links, first one wins
mkdir "$T/path"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    for f in "$d"/*; do
        b=${f##*/}
        case $b in node | nodejs | mpirun | gnuplot | zstd) continue ;; esac
        [ -x "$f" ] && [ ! -e "$T/path/$b" ] && ln -s "$f" "$T/path/$b"
    done
done

for t in tokenize-parity train-mpi plot shard_compat; do
    PATH=$T/path GPT2_REQUIRE_REFS=1 bash "$TOP/tests/cli/$t.sh" >"$T/req" 2>&1
    req=$?
    PATH=$T/path GPT2_REQUIRE_REFS=0 bash "$TOP/tests/cli/$t.sh" >"$T/user" 2>&1
    user=$?
    ok "$t.sh without its reference, GPT2_REQUIRE_REFS=1: fails, saying why" \
        eval '[ "$req" -ne 0 ] && grep -q "^not ok .*reference required by GPT2_REQUIRE_REFS=1" "$T/req"'
    ok "... and without the switch: skips, green" \
        eval '[ "$user" -eq 0 ] && grep -q "# SKIP" "$T/user" && ! grep -q "^not ok" "$T/user"'
done
done_testing
