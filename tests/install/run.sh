#!/bin/sh
# Installs the build tree into a scratch prefix, then builds and runs a
# program against the installed package with CMake (shared and static) and
# with pkg-config. Usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
want="Gradient: 6.0 Updated Weight: 4.4"

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
for exe in consumer consumer_static; do
  out=$("$work/cmake/$exe" reference)
  echo "find_package, $exe: $out"
  case "$out" in *"$want"*) ;; *) echo "unexpected output" >&2; exit 1 ;; esac
done

pc=$(dirname "$(find "$work/prefix" -name clgrad.pc)")
libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir clgrad)
# shellcheck disable=SC2046
${CC:-cc} "$src/tests/install/main.c" -o "$work/pc_consumer" \
  $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs clgrad) -Wl,-rpath,"$libdir"
out=$("$work/pc_consumer" reference)
echo "pkg-config: $out"
case "$out" in *"$want"*) ;; *) echo "unexpected output" >&2; exit 1 ;; esac
