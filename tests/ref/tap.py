"""TAP output shared by the reference checks: ok() prints one test line (and a detail
comment), failures() counts the failed ones, plan() prints the plan and returns the exit
status."""
import sys

_run = _failed = 0


def ok(cond, name, detail=""):
    global _run, _failed
    _run += 1
    print(("ok" if cond else "not ok") + f" {_run} - {name}")
    if detail:
        print(f"#   {detail}")
    if not cond:
        _failed += 1
    sys.stdout.flush()
    return cond


def failures():
    return _failed


def plan():
    print(f"1..{_run}")
    return 1 if _failed else 0
