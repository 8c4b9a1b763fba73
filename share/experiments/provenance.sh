#!/bin/sh
# provenance.sh BIN KEY=VALUE...: one JSON object on standard output with
# the KEY=VALUE pairs (strings), "versions" (the first line of
# `PROG --version` of every BIN/rrsis-* program), "git" (git describe of
# the checkout the programs come from, or null outside one), "date" (UTC)
# and "host".  paper.mk writes it as each run folder's provenance.json.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: provenance.sh BIN KEY=VALUE..." >&2
    exit 2
fi
bin=$1
shift
versions=$(for p in "$bin"/rrsis-*; do
    [ -x "$p" ] && printf '%s\t%s\n' "$(basename "$p")" "$("$p" --version | head -n 1)"
done | jq -R 'split("\t") | {(.[0]): .[1]}' | jq -s 'add // {}')
git=$(git -C "$bin/.." describe --always --dirty --tags 2>/dev/null || true)
for kv; do
    printf '%s\n' "$kv"
done | jq -R 'index("=") as $i | {(.[:$i]): .[$i + 1:]}' | jq -s \
    --argjson versions "$versions" --arg git "$git" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg host "$(uname -n)" \
    'add // {} | . + {versions: $versions, git: (if $git == "" then null else $git end), date: $date, host: $host}'
