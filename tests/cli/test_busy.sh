#!/bin/sh
# The programs' OpenMP wait policy: waiting threads sleep (PASSIVE) unless the
# user says otherwise, so that a busy machine, or the stages of one pipeline
# on the same cores, do not make them spin.  libgomp reports what it read
# (OMP_DISPLAY_ENV=verbose, on stderr at start-up): its spin count is 0 under
# PASSIVE, 300000 under its own default, and the user's OMP_WAIT_POLICY or
# GOMP_SPINCOUNT is what it reads when either is set.
#   BIN     the programs (default bin)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, expect_eq, $T, $BIN)

PROGS="rrsis-synth rrsis-tokenize rrsis-encode rrsis-fuse rrsis-decode rrsis-score rrsis-train rrsis-inspect"
for p in $PROGS; do
    [ -x "$BIN/$p" ] || { fail "$p" "$BIN/$p is missing"; finish; exit; }
done
unset OMP_WAIT_POLICY GOMP_SPINCOUNT

# shown PROG NAME [VAR=VALUE...]: the value libgomp shows for NAME when PROG
# starts with the variables given.
shown() {
    prog=$1 name=$2
    shift 2
    env "$@" OMP_DISPLAY_ENV=verbose "$BIN/$prog" --version 2>&1 >/dev/null |
        sed -n "s/^ *$name = '\\(.*\\)'\$/\\1/p"
}

for p in $PROGS; do
    expect_eq "$p: waiting threads sleep by default" 0 "$(shown "$p" GOMP_SPINCOUNT)"
done
expect_eq "the user's OMP_WAIT_POLICY=ACTIVE is kept" ACTIVE \
    "$(shown rrsis-encode OMP_WAIT_POLICY OMP_WAIT_POLICY=ACTIVE)"
expect_eq "the user's OMP_WAIT_POLICY=ACTIVE spins" 30000000000 \
    "$(shown rrsis-encode GOMP_SPINCOUNT OMP_WAIT_POLICY=ACTIVE)"
expect_eq "the user's GOMP_SPINCOUNT is kept" 1000 "$(shown rrsis-fuse GOMP_SPINCOUNT GOMP_SPINCOUNT=1000)"
finish
