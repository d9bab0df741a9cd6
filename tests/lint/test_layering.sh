#!/usr/bin/env bash
# The layering rule (README "Source layout"): the math layers -- src/base, src/nn, src/task, src/grpo, src/groups and their
# headers -- include neither mpi.h nor hdf5.h, directly or through a pgrpo header; only src/par includes mpi.h
# among the libraries below the command layer, and only src/io includes hdf5.h.
source "$(dirname "$0")/../lib.sh"
# Every pgrpo header a file pulls in, transitively (quoted includes resolve in include/ or beside the file).
deps() {
    local seen=" " todo=("$1") f dir h
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}; todo=("${todo[@]:1}")
        case "$seen" in *" $f "*) continue;; esac
        seen="$seen$f "; echo "$f"; dir=$(dirname "$f")
        for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            if [ -f "$dir/$h" ]; then todo+=("$dir/$h"); elif [ -f "include/$h" ]; then todo+=("include/$h"); fi
        done
    done
}
includes() {  # system headers named by a file and everything it pulls in
    deps "$1" | xargs sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' | sort -u
}
for layer in base nn task grpo groups text reward hf; do
    bad=""
    for f in src/$layer/*.c src/$layer/*.h; do
        [ -f "$f" ] || continue
        if includes "$f" | grep -qxE 'mpi\.h|hdf5\.h|H5[A-Za-z]*\.h'; then bad="$bad $f"; fi
    done
    check "math layer src/$layer includes neither mpi.h nor hdf5.h${bad:+ (offenders:$bad)}" test -z "$bad"
done
bad=""
for f in src/*/*.c src/*/*.h; do
    case "$f" in src/io/*|src/cmd/*) continue;; esac
    grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(hdf5|H5[A-Za-z]*)\.h>' "$f" && bad="$bad $f"
done
check "only src/io (and src/cmd) include hdf5.h${bad:+ (offenders:$bad)}" test -z "$bad"
bad=""
for f in src/*/*.c src/*/*.h; do
    case "$f" in src/par/*|src/io/*|src/cmd/*|src/run/*) continue;; esac
    grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<mpi\.h>' "$f" && bad="$bad $f"
done
check "mpi.h only below src/par, src/io, src/run, src/cmd${bad:+ (offenders:$bad)}" test -z "$bad"
# Above src/par, MPI is reached through collectives named by intent (comm.h, transfer.h): no MPI_* call in src/run
# or src/cmd (types and constants such as MPI_Comm may still appear in signatures).
bad=""
for f in src/run/*.c src/run/*.h src/cmd/*.c src/cmd/*.h; do
    [ -f "$f" ] || continue
    grep -qE '\bP?MPI_[A-Z][a-z_0-9]*[[:space:]]*\(' "$f" && bad="$bad $f"
done
check "no MPI_* calls in src/run and src/cmd${bad:+ (offenders:$bad)}" test -z "$bad"
probe=$SCRATCH/probe_call.c; printf 'void f(void) { MPI_Barrier(MPI_COMM_WORLD); }\n' >"$probe"
check "the MPI call scan sees a call (self-test)" grep -qE '\bP?MPI_[A-Z][a-z_0-9]*[[:space:]]*\(' "$probe"
# The rule has teeth: a file that does include mpi.h is caught by the same scan.
probe=$SCRATCH/probe.c; printf '#include "comm.h"\n' >"$probe"
check "the scan sees mpi.h through a header (self-test)" bash -c "$(declare -f deps includes); cd '$PWD'; includes '$probe' | grep -qx mpi.h"
