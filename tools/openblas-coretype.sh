# Sourced by shell scripts (bench/cpu-forward.sh, tools/demo-model.sh): sets
# and exports OPENBLAS_CORETYPE from the CPU's flags unless it is already set.
# OpenBLAS 0.3.21 (Debian 12) does not recognise CPUs newer than itself and
# falls back to its Prescott (SSE3) kernels, 2 to 3 times slower than the
# AVX-512 (SkylakeX) or AVX2 (Haswell) ones such a CPU can run.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    _rr_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
    case " $_rr_flags " in
    *" avx512f "*) OPENBLAS_CORETYPE=SkylakeX; export OPENBLAS_CORETYPE ;;
    *" avx2 "*) OPENBLAS_CORETYPE=Haswell; export OPENBLAS_CORETYPE ;;
    esac
    unset _rr_flags
fi
