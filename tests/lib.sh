# lib.sh: TAP helpers for the CLI tests (sourced by tests/cli/*.sh, run by prove).
#   ok NAME CMD...    a TAP line: NAME passes when CMD succeeds
#   run CMD...        runs CMD, keeps $out (stdout file), $err (stderr file), $rc
#   into, same_as     compare a tool's output only when the tool itself exited 0
#   skip_all, skip_ref, need_python   skip a whole test, saying why (see below)
#   wait_for, locked, blocked_in      wait for a state, never for a time (see below)
# Binaries come from $BIN (default: bin/ of the checkout), test helpers from $TESTBIN
# (default: build/tests).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$TOP/bin}
TESTBIN=${TESTBIN:-$TOP/build/tests}
PATH=$BIN:$PATH
export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
out=$T/stdout err=$T/stderr rc=0
tap_n=0 tap_fail=0

ok() { # ok NAME CMD... : passes when CMD succeeds
    local name=$1
    shift
    tap_n=$((tap_n + 1))
    if "$@"; then
        echo "ok $tap_n - $name"
    else
        echo "not ok $tap_n - $name"
        tap_fail=$((tap_fail + 1))
        [ -s "$err" ] && sed 's/^/#   stderr: /' "$err" | head -n 5
    fi
    return 0
}
run() { # run CMD... : stdout to $out, stderr to $err, status in $rc
    rc=0
    "$@" >"$out" 2>"$err" || rc=$?
}
exits() { [ "$rc" -eq "$1" ]; }                 # exits N
stderr_has() { grep -q -- "$1" "$err"; }        # stderr_has TEXT
stdout_is() { printf '%s' "$1" | cmp -s - "$out"; } # stdout_is TEXT (exact)
prints() { exits 0 && stdout_is "$1"; }           # prints TEXT: exit 0 and stdout TEXT
# into FILE CMD...: CMD's stdout into FILE; passes on CMD's own exit status, so that a tool
# that writes its output and then fails cannot make the comparison after it pass
into() {
    local f=$1
    shift
    "$@" >"$f"
}
# same_as FILE PIPELINE: PIPELINE (one string, run under pipefail: every command in it must
# exit 0, not only the last) writes exactly FILE, and FILE is not empty (two empty outputs
# agree without testing anything)
same_as() {
    [ -s "$1" ] || { echo "# same_as: $1 is empty or missing"; return 1; }
    (
        set -o pipefail
        eval "$2" | cmp -s - "$1"
    )
}
# No test may depend on the machine's speed. A test waits for a state (a file, a log
# line, a lock held, a process blocked in a system call), never for a time; the tools'
# progress lines draw every update (test knobs, tests/README.md).
export GPT2_PROGRESS_INTERVAL=0 GPT2_PROGRESS_PARTS_AFTER=0
# wait_for CMD...: polls CMD every 0.05 s until it succeeds. The bound (5 minutes) only
# ends a broken run; a passing one never reaches it, however slow the machine.
wait_for() {
    local i
    for i in $(seq 6000); do
        "$@" && return 0
        sleep 0.05
    done
    echo "# wait_for: gave up on: $*"
    return 1
}
locked() { ! flock -n "$1" true; } # locked FILE: another process holds FILE's flock
# blocked_in PID CALL [FD]: PID's main thread waits inside system call CALL (read or
# flock), on file descriptor FD if given, as /proc/PID/syscall shows
blocked_in() {
    local nr s
    case $2:$(uname -m) in
    read:x86_64) nr=0 ;;
    read:aarch64) nr=63 ;;
    flock:x86_64) nr=73 ;;
    flock:aarch64) nr=32 ;;
    *) return 1 ;;
    esac
    s=$(cut -d' ' -f1,2 "/proc/$1/syscall" 2>/dev/null) || return 1
    [ "${s%% *}" = "$nr" ] && { [ $# -lt 3 ] || [ "${s#* }" = "$(printf '0x%x' "$3")" ]; }
}
# can_see_syscalls: this machine shows blocked system calls in /proc (Linux, a known
# architecture)
can_see_syscalls() {
    case $(uname -m) in x86_64 | aarch64) ;; *) return 1 ;; esac
    head -c 1 /proc/self/syscall >/dev/null 2>&1
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# skip_ref REASON: an independent reference (PyTorch, an npm oracle, MPI) is missing. A
# skip on a user's machine; a failure where GPT2_REQUIRE_REFS=1 (.ci/run sets it), so CI
# cannot go green without the checks that matter most.
skip_ref() {
    if [ "${GPT2_REQUIRE_REFS:-0}" = 1 ]; then
        printf '1..1\nnot ok 1 - reference required by GPT2_REQUIRE_REFS=1: %s\n' "$*"
        exit 1
    fi
    skip_all "$*"
}
# skip_ref_test NAME REASON: one TAP line for a check whose independent reference is
# missing: a skip, or a failure under GPT2_REQUIRE_REFS=1, as skip_ref for a whole test
skip_ref_test() {
    if [ "${GPT2_REQUIRE_REFS:-0}" = 1 ]; then
        ok "$1 (reference required by GPT2_REQUIRE_REFS=1: $2)" false
    else
        ok "$1 # SKIP $2" true
    fi
}
# need_python MODULE...: PY becomes the first of $PYTHON, python3 and /usr/bin/python3 that
# imports every module (a pyenv python3 may lack the Debian packages), or the test skips
need_python() {
    local p code="import $(IFS=,; echo "$*")"
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        if "$p" -c "$code" 2>/dev/null; then PY=$p && return 0; fi
    done
    skip_ref "no python3 with $*"
}
done_testing() {
    echo "1..$tap_n"
    [ "$tap_fail" -eq 0 ]
}
