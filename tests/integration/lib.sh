# lib.sh - a few assertions for the integration tests, which drive the real hookd binary.
# Each script sources this, calls the checks, and ends with `finish`.
set -u
: "${HOOKD:?HOOKD must point at the hookd binary}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; [ -n "${CLEANUP:-}" ] && eval "$CLEANUP"' EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect_exit CODE DESCRIPTION COMMAND...: run COMMAND, compare its exit status.
# Its stdout and stderr are kept in $TMP/out and $TMP/err for later checks.
expect_exit() {
  local want=$1 desc=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$desc"; else
    fail "$desc" "exit $got, wanted $want" "stdout: $(head -c 400 "$TMP/out")" "stderr: $(head -c 400 "$TMP/err")"
  fi
}

# expect_match FILE REGEX DESCRIPTION
expect_match() {
  if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3" "no /$2/ in: $(head -c 400 "$1")"; fi
}

expect_no_match() {
  if grep -Eq -- "$2" "$1"; then fail "$3" "found /$2/ in: $(head -c 400 "$1")"; else pass "$3"; fi
}

expect_eq() {
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "got '$1'" "wanted '$2'"; fi
}

# header NAME FILE: the value of "NAME: value" in FILE.
header() { sed -n "s/^$1: //p" "$2"; }

finish() {
  echo "$(basename "$0" .sh): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
