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
version=$(sed -n 's/^#define CLG_VERSION_\(MAJOR\|MINOR\) \([0-9]*\)$/\2/p' "$src/include/clgrad.h" | paste -sd.)
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" -DCLGRAD_WANT="$version" -DCLGRAD_SRC="$src" >/dev/null
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

# the embedder's MLP, built against the installed package: one epoch
data=/usr/share/datasets/fashion-mnist
if [ -f "$data/train-images-idx3-ubyte.gz" ]; then
  "$work/cmake/example_mlp" "$data"
else
  echo "example_mlp: built; not run (no Fashion-MNIST in $data)"
fi

# C++: the headers compile warning-free and CLG_NO_TENSOR is valid there
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
  # shellcheck disable=SC2046
  "${CXX:-c++}" -std=c++11 -Wall -Wextra -pedantic -Werror "$src/tests/install/cxx.cpp" -o "$work/cxx_consumer" \
    $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs clgrad) -Wl,-rpath,"$libdir"
  "$work/cxx_consumer"
else
  echo "C++: no C++ compiler here; skipped"
fi

# The installed programs run from the prefix with no LD_LIBRARY_PATH, and
# still after the prefix is moved (RPATH relative to the program), and
# run with the library they were installed with (its SONAME, libclgrad.so.0.MINOR).
mv "$work/prefix" "$work/moved"
out=$(env -u LD_LIBRARY_PATH "$work/moved/bin/clgrad-hello" --device reference 2>/dev/null | tr '\n' ' ')
echo "installed clgrad-hello, prefix moved: $out"
case "$out" in *"$want"*) ;; *) echo "unexpected output" >&2; exit 1 ;; esac
lib=$(env -u LD_LIBRARY_PATH ldd "$work/moved/bin/clgrad-train" | grep libclgrad)
echo "clgrad-train: $lib"
case "$lib" in *"libclgrad.so.0.$(echo "$version" | cut -d. -f2) => $work/moved/"*) ;; *) echo "not the installed library" >&2; exit 1 ;; esac
