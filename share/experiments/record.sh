#!/bin/sh
# record.sh RUNDIR COMMAND: appends COMMAND (one shell command line, pipes
# allowed) to RUNDIR/commands.log after a line with the time, then runs it
# with bash, a failure anywhere in a pipeline failing it.  paper.mk runs
# every training, inference and scoring through it, so that a run folder
# says exactly what made it, resumptions included.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: record.sh RUNDIR COMMAND" >&2
    exit 2
fi
mkdir -p "$1"
printf '# %s\n%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" >>"$1/commands.log"
exec bash -eu -o pipefail -c "$2"
