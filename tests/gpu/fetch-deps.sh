#!/bin/sh
# Downloads, here, the Debian packages a GPU machine needs to build rrsis:
# every -dev package of the Makefile's DEB_BUILD (gcc and make aside) and,
# through apt-cache depends, the runtime library packages they lead to
# (libpng16-16, libtiff6 and what it links, libopenblas0-pthread,
# libgfortran5, ...).  The GPU machine has a compiler, CUDA and PyTorch but
# none of these and no network, so tests/gpu/check.sh unpacks them there
# with dpkg -x into /tmp/deps (never into /).
#
#   sh tests/gpu/fetch-deps.sh [DIR]      (from the repository root; DIR
#                                          defaults to deps/debs, ignored by git)
#
# Idempotent: a package already downloaded is kept, one no longer needed is
# removed; DIR/PACKAGES lists what is there.  The C library and the
# compiler's runtime (libc6, libgcc-s1, libstdc++6, libgomp1) are never
# fetched: the GPU machine's own must be used.  Take DIR's parent along to
# the GPU machine.
set -eu
[ -f Makefile ] && [ -d libcore ] || {
    echo "fetch-deps.sh: run it from the repository root" >&2
    exit 2
}
DEST=${1:-deps/debs}
mkdir -p "$DEST"
command -v apt-get >/dev/null && command -v apt-cache >/dev/null || {
    echo "fetch-deps.sh: needs apt-get and apt-cache (a Debian 12 machine)" >&2
    exit 1
}

# The -dev packages: DEB_BUILD of the Makefile (a continued assignment).
DEV=$(awk '/^DEB_BUILD[ \t]*:?=/ { on = 1; sub(/^[^=]*=/, "") }
           on { line = $0; cont = sub(/\\[ \t]*$/, "", line); printf "%s ", line; if (!cont) on = 0 }' Makefile |
      tr ' \t' '\n\n' | grep -- '-dev$' | sort -u)
[ -n "$DEV" ] || {
    echo "fetch-deps.sh: no -dev package in the Makefile's DEB_BUILD" >&2
    exit 1
}

# "PKG DEP" for each dependency of the packages named: the first real
# alternative of each Depends/PreDepends group (virtual packages, shown as
# <name>, skipped).  One apt-cache call for them all.
deps_of() {
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" |
        awk '/^[^ <]/ { pkg = $1; open = 0; next }
             /^ *\|?(Pre)?Depends:/ {
                 alt = ($0 ~ /^ *\|/); name = $0; sub(/^.*Depends: */, "", name)
                 if (!open) { pick = ""; open = 1 }
                 if (pick == "" && name !~ /^</) pick = name
                 if (!alt) { if (pick != "") print pkg, pick; open = 0 }
             }'
}

# Never carried: the C library and the compiler's runtime.
excluded() {
    case $1 in
    libc6 | libc6-* | libgcc-s1 | libstdc++6 | libgomp1 | libcrypt1 | libc-*) return 0 ;;
    *) return 1 ;;
    esac
}

# A breadth-first walk: from a -dev package, its runtime libraries (lib*,
# not -dev) and the -dev packages of the same library (libopenblas-dev ->
# libopenblas-pthread-dev); from a runtime library, its runtime libraries.
want=""
queue=$DEV
while [ -n "$queue" ]; do
    new=""
    for p in $queue; do
        case " $want $new " in *" $p "*) continue ;; esac
        excluded "$p" || new="$new $p"
    done
    [ -n "$new" ] || break
    want="$want $new"
    pairs=$(deps_of $new) || {
        echo "fetch-deps.sh: apt-cache depends failed (apt-get update?)" >&2
        exit 1
    }
    queue=$(printf '%s\n' "$pairs" | while read -r p d; do
        [ -n "$d" ] || continue
        case $d in
        *-dev) case $p in *-dev) case $d in "${p%-dev}"*) echo "$d" ;; esac ;; esac ;;
        lib*) echo "$d" ;;
        esac
    done | sort -u)
done

# name version architecture of every wanted package (one apt-cache call).
info=$(apt-cache show --no-all-versions $want |
       awk '/^Package: / { p = $2 } /^Version: / { v = $2 } /^Architecture: / { a = $2 }
            /^$/ { if (p != "") print p, v, a; p = "" } END { if (p != "") print p, v, a }')
for p in $want; do
    printf '%s\n' "$info" | grep -q "^$p " || {
        echo "fetch-deps.sh: no package '$p' (apt-get update?)" >&2
        exit 1
    }
done

# Download what is missing (the candidate version), drop what is not wanted.
list="$DEST/PACKAGES.new"
: >"$list"
fetched=0
printf '%s\n' "$info" | while read -r p ver arch; do
    file="${p}_$(printf '%s' "$ver" | sed 's/:/%3a/g')_${arch}.deb"
    echo "$p $ver $file" >>"$list"
done
missing=$(while read -r p ver file; do [ -s "$DEST/$file" ] || echo "$p"; done <"$list")
if [ -n "$missing" ]; then
    for p in $missing; do rm -f "$DEST/${p}"_*.deb; done
    (cd "$DEST" && apt-get download -q $missing 2>&1 | grep -v 'Download is performed unsandboxed' >&2) || true
    fetched=$(echo $missing | wc -w | tr -d ' ')
fi
while read -r p ver file; do
    [ -s "$DEST/$file" ] || {
        echo "fetch-deps.sh: could not download $p ($file)" >&2
        exit 1
    }
done <"$list"
for f in "$DEST"/*.deb; do
    [ -e "$f" ] || continue
    awk -v f="$(basename "$f")" '$3 == f { found = 1 } END { exit !found }' "$list" || rm -f "$f"
done
sort "$list" >"$DEST/PACKAGES"
rm -f "$list"
n=$(wc -l <"$DEST/PACKAGES" | tr -d ' ')
size=$(du -sk "$DEST" | cut -f1)
echo "fetch-deps.sh: $n packages in $DEST ($fetched downloaded now, $((size / 1024)) MiB)" >&2
