#!/bin/sh
# A cold kernel build prints nothing (issue 12): PoCL printed "6 warnings
# generated" on CPUs without AVX-512, for 16-float values passed to and from
# functions in cl/ (-Wpsabi).
#  1. clgrad-hello on the first OpenCL CPU device with an empty kernel cache:
#     stderr holds only its "on DEVICE" line.
#  2. Where clang is installed: cl/ compiled as the library embeds it
#     (common.cl first), with PoCL's header where it is installed, for an
#     AVX2 CPU (haswell, znver2) at the vector widths such a device prefers
#     or the tests force (1, 4, 8) and for AVX-512 at 16: no warning.
# Usage: cold_build.sh CLGRAD_HELLO SOURCE_DIR
set -u
hello=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
ran=0

if "$hello" --device cpu --steps 1 >/dev/null 2>&1; then
  CLGRAD_CACHE_DIR="$work/cache" "$hello" --device cpu >"$work/out" 2>"$work/err"
  if [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -q "^clgrad-hello: on " "$work/err"; then
    echo "cold build on the CPU device printed:" >&2
    head -n 20 "$work/err" >&2
    status=1
  else
    echo "cold build: $(cat "$work/err"), nothing else"
  fi
  ran=1
fi

cc=$(command -v clang || ls /usr/lib/llvm-*/bin/clang 2>/dev/null | tail -n 1)
if [ -n "$cc" ]; then
  { cat "$src/cl/common.cl"; for f in "$src"/cl/*.cl; do [ "$(basename "$f")" = common.cl ] || cat "$f"; done; } >"$work/all.cl"
  if [ -f /usr/share/pocl/include/_kernel.h ]; then
    hdr="-Xclang -fdeclare-opencl-builtins -I/usr/share/pocl/include -include /usr/share/pocl/include/_kernel.h"
  else
    hdr="-Xclang -finclude-default-header"
  fi
  for target in haswell:1 haswell:4 haswell:8 znver2:8 skylake-avx512:16; do
    march=${target%:*} vw=${target#*:}
    # shellcheck disable=SC2086
    "$cc" -x cl -cl-std=CL1.2 $hdr -target x86_64-unknown-linux-gnu -march="$march" -DCLG_VW="$vw" \
      -c "$work/all.cl" -o "$work/all.o" 2>"$work/warn"
    rc=$?
    if [ $rc -ne 0 ] || grep -q "warning:\|error:" "$work/warn"; then
      echo "$march, vector width $vw: exit $rc, $(grep -c 'warning:' "$work/warn") warning(s):" >&2
      grep "warning:\|error:" "$work/warn" | head -n 5 >&2
      status=1
    else
      echo "$march, vector width $vw: no warning ($cc)"
    fi
  done
  ran=1
fi
[ $ran -eq 1 ] || { echo "no OpenCL CPU device and no clang: nothing to check"; exit 77; }
exit $status
