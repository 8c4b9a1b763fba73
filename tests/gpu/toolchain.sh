#!/bin/sh
# What the GPU scripts (tests/gpu/check.sh, bench/gpu.sh) build with: the
# toolchain found, reported first, and the libraries the build needs, taken
# from the carried Debian packages (deps/debs) or the system, and checked.
#
#   sh tests/gpu/toolchain.sh     (from the repository root) prints the report,
#                                 unpacks deps/debs and checks that every header
#                                 and library of the build is found; exit 1,
#                                 naming each one missing, when one is not
#   . tests/gpu/toolchain.sh      (from a script) defines the functions below
#
# tc_report       one line per tool: make, gcc, nvcc (PATH, then $CUDA_HOME/bin,
#                 /usr/local/cuda/bin, /usr/local/cuda-*/bin, /opt/cuda/bin,
#                 a Python wheel's nvidia/cuda_nvcc), the GPU (nvidia-smi: name,
#                 driver, compute capability), and where libcublas, libcufft,
#                 libcudart and libnccl are (an unversioned .so links; a Python
#                 wheel's versioned one gets an unversioned link in $TC_DEPS/cuda),
#                 and where cuda_runtime.h, cublas_v2.h and cufft.h are (a
#                 wheel's go on CPATH); says plainly what is missing.  Sets NVCC, NVCCV, CUDA_HOME_TC,
#                 GPU ("name, cc, driver"), SM (e.g. 90), GPU_WHY (why no GPU).
# tc_deps         unpacks deps/debs/*.deb ($GPU_CHECK_DEBS/*.deb) into $TC_DEPS (default /tmp/deps;
#                 never into /) and points CPATH, LIBRARY_PATH at it; sets
#                 RUNLIBS (for LD_LIBRARY_PATH), LDEXTRA, BLASV (make variables).
#                 Prints one line; returns 1 when a package cannot be unpacked.
# tc_check        every header (png.h, jpeglib.h, tiffio.h, cjson/cJSON.h,
#                 utf8proc.h, cblas.h, fftw3.h) and library of the build is found
#                 in the carried packages or the system; prints one line, and
#                 returns 1 naming each one missing and its Debian package.
#                 GPU_CHECK_SYSTEM_INCLUDE replaces the system's include
#                 directories (the compiler's own and OpenBLAS's) in the header
#                 search (a test points it at an empty directory).
# tc_record FILE RESULTS   appends FILE (a GPU run's table or row, copied home
#                 from its $OUT) to RESULTS, and drops RESULTS'
#                 line "No GPU run has happened yet".
# TC_LINES holds every line printed, for a log.

TC_DEPS=${GPU_CHECK_DEPS:-/tmp/deps}
TC_DEBS=${GPU_CHECK_DEBS:-deps/debs}
TC_LINES=""
# tc_say WHAT TEXT: one line of the report.
tc_say() {
    l=$(printf 'toolchain: %-14s %s' "$1" "$2")
    echo "$l"
    TC_LINES="$TC_LINES
$l"
}

tc_record() {
    [ -s "$1" ] || {
        echo "$(basename "$0"): nothing to record in '$1'" >&2
        return 1
    }
    if grep -q '^No GPU run has happened yet' "$2" 2>/dev/null; then
        tmp=$(mktemp) && grep -v '^No GPU run has happened yet' "$2" >"$tmp" && cat "$tmp" >"$2" && rm -f "$tmp"
    fi
    cat "$1" >>"$2" && echo "$(basename "$0"): $1 appended to $2" >&2
}

# The first of the files named (globs allowed) that exists, else nothing.
tc_first() {
    for f in "$@"; do
        [ -e "$f" ] && {
            echo "$f"
            return 0
        }
    done
    return 1
}

# The site-packages directories of the Python interpreters here (for NVIDIA's wheels).
tc_sites() {
    for py in ${PYTHON:-} python3 /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        "$py" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null
    done | sort -u
}

tc_report() {
    tc_say make "$(command -v make 2>/dev/null || echo 'NOT FOUND: no make on PATH') ($(make --version 2>/dev/null | head -n1))"
    tc_say gcc "$(command -v gcc 2>/dev/null || echo 'NOT FOUND: no gcc on PATH') (gcc $(gcc -dumpfullversion 2>/dev/null))"

    # nvcc: PATH, the usual places, a wheel
    SITES=$(tc_sites)
    NVCC=$(command -v nvcc 2>/dev/null)
    where="on PATH"
    if [ -z "$NVCC" ]; then
        # shellcheck disable=SC2086
        NVCC=$(tc_first ${CUDA_HOME:+"$CUDA_HOME/bin/nvcc"} /usr/local/cuda/bin/nvcc \
            $(ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -rV) /opt/cuda/bin/nvcc \
            $(for s in $SITES; do echo "$s/nvidia/cuda_nvcc/bin/nvcc"; done))
        where="not on PATH, found here"
    fi
    NVCCV=""
    if [ -n "$NVCC" ]; then
        NVCCV=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
        CUDA_HOME_TC=$(dirname "$(dirname "$NVCC")")
        tc_say nvcc "$NVCC ($where), CUDA ${NVCCV:-? (nvcc --version failed)}; CUDA_HOME $CUDA_HOME_TC"
    else
        CUDA_HOME_TC=${CUDA_HOME:-}
        tc_say nvcc "NOT FOUND: not on PATH, nor in \$CUDA_HOME/bin (${CUDA_HOME:-CUDA_HOME unset}), /usr/local/cuda/bin, /usr/local/cuda-*/bin, /opt/cuda/bin or a Python wheel (nvidia/cuda_nvcc): the CUDA build is impossible"
    fi

    # the GPU
    GPU="" SM="" GPU_WHY=""
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        GPU_WHY="nvidia-smi is not installed (no NVIDIA driver on this machine)"
    else
        out=$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>&1)
        if [ $? = 0 ] && [ -n "$out" ]; then
            GPU=$(echo "$out" | head -n1)
            SM=$(echo "$GPU" | cut -d, -f2 | tr -d ' .')
            case $SM in [1-9][0-9]*) ;; *) SM="" ;; esac
        else
            GPU_WHY="nvidia-smi failed: $(echo "$out" | head -n1)"
        fi
    fi
    if [ -n "$GPU" ]; then
        cuda_drv=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n1)
        tc_say GPU "$(echo "$GPU" | cut -d, -f1 | sed 's/^ *//'), compute capability $(echo "$GPU" | cut -d, -f2 | tr -d ' ')${SM:+ (sm_$SM)}, driver$(echo "$GPU" | cut -d, -f3) (CUDA ${cuda_drv:-?} at most)"
        [ -n "$SM" ] || tc_say GPU "this nvidia-smi gives no compute capability: sm_90 is assumed"
    else
        tc_say GPU "NOT FOUND: $GPU_WHY"
    fi

    # the CUDA headers the .cu files include: the toolkit's, else a wheel's (CUDA 13's
    # wheels keep them in nvidia/cu13/include), put on CPATH for gcc and nvcc
    for h in cuda_runtime.h cublas_v2.h cufft.h; do
        d=$(tc_first ${CUDA_HOME_TC:+"$CUDA_HOME_TC/include/$h" "$CUDA_HOME_TC/targets/x86_64-linux/include/$h"} \
            $(for s in $SITES; do ls "$s"/nvidia/*/include/$h 2>/dev/null; done))
        if [ -z "$d" ]; then
            tc_say "$h" "NOT FOUND in ${CUDA_HOME_TC:-(no CUDA_HOME)}/include or a Python wheel: the CUDA build will fail"
            continue
        fi
        d=$(dirname "$d")
        case $d in
        "${CUDA_HOME_TC:-/nowhere}"/*) tc_say "$h" "$d" ;;
        *)
            export CPATH="${CPATH:+$CPATH:}$d"
            tc_say "$h" "$d (a Python wheel's: put on CPATH)"
            ;;
        esac
    done

    # the CUDA libraries: an unversioned .so links; a wheel's versioned one gets a link
    libdirs=""
    for d in ${CUDA_HOME_TC:+"$CUDA_HOME_TC/lib64" "$CUDA_HOME_TC/lib" "$CUDA_HOME_TC/targets/x86_64-linux/lib"} \
        /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64; do
        [ -d "$d" ] && libdirs="$libdirs $d"
    done
    for lib in cublas cufft cudart nccl; do
        note=""
        [ $lib = nccl ] && note=" (linked only by a build with MPI, for training across GPUs)"
        found=""
        for d in $libdirs; do
            [ -e "$d/lib$lib.so" ] && found="$d/lib$lib.so" && break
        done
        [ -n "$found" ] || found=$(ldconfig -p 2>/dev/null | awk -v l="lib$lib.so" '$1 == l { print $NF; exit }')
        if [ -n "$found" ]; then
            tc_say "lib$lib" "$found -> $(readlink -f "$found" | sed 's|.*/||') (links)$note"
            continue
        fi
        wheel=""
        for s in $SITES; do
            wheel=$(ls "$s"/nvidia/*/lib/lib$lib.so.* 2>/dev/null | head -n1)
            [ -n "$wheel" ] && break
        done
        if [ -n "$wheel" ]; then
            if [ $lib != nccl ]; then
                mkdir -p "$TC_DEPS/cuda" && ln -sf "$wheel" "$TC_DEPS/cuda/lib$lib.so"
                export LIBRARY_PATH="$TC_DEPS/cuda${LIBRARY_PATH:+:$LIBRARY_PATH}"
                TC_CUDALINK="$TC_DEPS/cuda:$(dirname "$wheel")${TC_CUDALINK:+:$TC_CUDALINK}"
                note=" (a Python wheel's, versioned only: linked through $TC_DEPS/cuda/lib$lib.so)"
            fi
            tc_say "lib$lib" "$wheel$note"
        elif [ $lib = nccl ]; then
            tc_say "lib$lib" "not found$note"
        else
            tc_say "lib$lib" "NOT FOUND: no lib$lib.so in${libdirs:- (no CUDA library directory)}, ldconfig's cache or a Python wheel: the CUDA link will fail"
        fi
    done
}

tc_deps() {
    A=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
    case $A in x86_64-*linux-gnu) A=x86_64-linux-gnu ;; esac
    RUNLIBS="${TC_CUDALINK:-}" LDEXTRA="" BLASV=""
    if ! ls "$TC_DEBS"/*.deb >/dev/null 2>&1; then
        tc_say deps "none carried (no $TC_DEBS/*.deb): the system's libraries"
        return 0
    fi
    mkdir -p "$TC_DEPS"
    rm -rf "$TC_DEPS/usr" "$TC_DEPS/lib"
    n=0 bad=""
    for f in "$TC_DEBS"/*.deb; do
        if command -v dpkg >/dev/null 2>&1; then
            dpkg -x "$f" "$TC_DEPS" || bad="$bad $(basename "$f")"
        else # a .deb is an ar archive holding data.tar.xz (or .gz, .zst)
            data=$(ar t "$f" | grep '^data\.tar')
            case $data in *.xz) z=-J ;; *.gz) z=-z ;; *.zst) z=--zstd ;; *) z= ;; esac
            ar p "$f" "$data" | tar $z -x -f - -C "$TC_DEPS" || bad="$bad $(basename "$f")"
        fi
        n=$((n + 1))
    done
    libs="$TC_DEPS/usr/lib/$A:$TC_DEPS/usr/lib/$A/openblas-openmp:$TC_DEPS/lib/$A"
    RUNLIBS="$libs${RUNLIBS:+:$RUNLIBS}"
    export CPATH="$TC_DEPS/usr/include:$TC_DEPS/usr/include/$A:$TC_DEPS/usr/include/$A/openblas-openmp${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$libs${LIBRARY_PATH:+:$LIBRARY_PATH}"
    LDEXTRA="-Wl,-rpath-link,$libs"
    BLASV="OPENBLAS_INC=$TC_DEPS/usr/include/$A/openblas-openmp OPENBLAS_LIB=$TC_DEPS/usr/lib/$A/openblas-openmp"
    if [ -n "$bad" ]; then
        tc_say deps "MISSING: could not unpack:$bad"
        return 1
    fi
    tc_say deps "$n packages from $TC_DEBS unpacked into $TC_DEPS"
}

# The header and library of each build dependency, with its Debian package.
TC_NEEDS="png.h:png:libpng-dev jpeglib.h:jpeg:libjpeg62-turbo-dev tiffio.h:tiff:libtiff-dev
cjson/cJSON.h:cjson:libcjson-dev utf8proc.h:utf8proc:libutf8proc-dev cblas.h:openblas:libopenblas-openmp-dev
fftw3.h:fftw3f:libfftw3-dev"

tc_check() {
    A=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
    case $A in x86_64-*linux-gnu) A=x86_64-linux-gnu ;; esac
    # where the build looks: CPATH, the OpenBLAS directory (make's OPENBLAS_INC), the compiler's own
    blas_inc=$(echo "${BLASV:-}" | sed -n 's/.*OPENBLAS_INC=\([^ ]*\).*/\1/p')
    blas_lib=$(echo "${BLASV:-}" | sed -n 's/.*OPENBLAS_LIB=\([^ ]*\).*/\1/p')
    sysinc=${GPU_CHECK_SYSTEM_INCLUDE-"/usr/include/$A/openblas-openmp $(gcc -xc -E -v - </dev/null 2>&1 |
        sed -n '/#include <...> search starts here:/,/End of search list/p' | sed -n 's/^ //p')"}
    incs="$(echo "${CPATH:-}" | tr ':' ' ') $blas_inc $sysinc"
    missing=""
    for need in $TC_NEEDS; do
        h=${need%%:*} rest=${need#*:}
        l=${rest%%:*} pkg=${rest#*:}
        hit=""
        for d in $incs; do
            [ -f "$d/$h" ] && hit=$d && break
        done
        [ -n "$hit" ] || missing="$missing $h ($pkg)"
        # shellcheck disable=SC2086
        if ! echo 'int main(void) { return 0; }' | gcc -x c - -o /dev/null ${LDEXTRA:-} \
            -L"${blas_lib:-/usr/lib/$A/openblas-openmp}" -l"$l" >/dev/null 2>&1; then
            missing="$missing -l$l ($pkg)"
        fi
    done
    if [ -n "$missing" ]; then
        tc_say deps "MISSING, in neither $TC_DEBS nor the system:$missing; run 'sh tests/gpu/fetch-deps.sh' on a Debian 12 machine and carry deps/"
        return 1
    fi
    tc_say deps "every header and library of the build found ($(echo $TC_NEEDS | sed 's/:[^ ]*//g'))"
}

# Run as a program: the report and the checks.
case $0 in
*toolchain.sh)
    [ -f Makefile ] && [ -d libcore ] || {
        echo "toolchain.sh: run it from the repository root" >&2
        exit 2
    }
    tc_report
    tc_deps && tc_check || {
        echo "toolchain.sh: error: the build's libraries are incomplete (the deps line above names what is missing)" >&2
        exit 1
    }
    ;;
esac
