# Sourced by the integration scripts and the real-node tier: the counters and the checks
# every script reports with. Each check prints one line, "ok   - WHAT" or "FAIL - WHAT";
# a script ends with `summary` (or its own "N passed, M failed" line).
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }
# expect WHAT CMD...: ok when CMD succeeds
expect() { local what=$1; shift; if "$@"; then ok "$what"; else no "$what"; fi; }
# has TEXT IN: IN contains TEXT as it is; lacks RE IN: no line of IN matches the ERE RE
has() { grep -qF -- "$1" <<<"$2"; }
lacks() { ! grep -qE -- "$1" <<<"$2"; }
