#!/usr/bin/env bash
# CI for the C++ face, without Python: the core and its tests built three ways
# (plain; AddressSanitizer + UndefinedBehaviorSanitizer; ThreadSanitizer for
# the tests that run threads), any sanitizer report failing the run; then the
# plain build installed to a temporary prefix, and the stand-alone example in
# cpp/examples built against it, in a project that embeds scatterpool with
# add_subdirectory, and against the package the wheel ships (if scatterpool is
# installed in the active environment), and run.
#
# Uses the cmake and ninja on PATH (the test extra installs both from PyPI).
# Build directories go to a temporary folder, removed at exit; set
# SCATTERPOOL_CPP_WORK to keep them somewhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
work=${SCATTERPOOL_CPP_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/scatterpool-cpp.XXXXXX")}
[ -n "${SCATTERPOOL_CPP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
started=$(date +%s)
step() { printf '\n--- cpp: %s (%ds)\n' "$1" $(( $(date +%s) - started )); }

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
configure() {  # configure <build dir> <cmake arguments...>
  local dir=$1; shift
  cmake -S "$src" -B "$dir" "${generator[@]}" -DSCATTERPOOL_PYTHON=OFF -DSCATTERPOOL_TESTS=ON "$@" >"$dir.configure.log" \
    || { cat "$dir.configure.log"; return 1; }
}

step "plain build, warnings as errors: core, tests, ctest"
configure "$work/plain" -DSCATTERPOOL_WERROR=ON
cmake --build "$work/plain" -j "$jobs"
ctest --test-dir "$work/plain" --output-on-failure

# Sanitizer builds: -O1 -g keeps compiling quick and the reports readable.
sanitized() {  # sanitized <name> <flags> <target> [ctest arguments...]
  local name=$1 flags=$2 target=$3; shift 3
  configure "$work/$name" -DSCATTERPOOL_INSTALL=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
    "-DCMAKE_CXX_FLAGS=$flags -fno-omit-frame-pointer" "-DCMAKE_EXE_LINKER_FLAGS=$flags"
  cmake --build "$work/$name" -j "$jobs" --target "$target"
  ctest --test-dir "$work/$name" --output-on-failure "$@"
}

step "AddressSanitizer + UndefinedBehaviorSanitizer: every test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  sanitized asan-ubsan "-fsanitize=address,undefined -fno-sanitize-recover=all" scatterpool_tests_all

step "ThreadSanitizer: the tests that run threads"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  sanitized tsan "-fsanitize=thread" scatterpool_tests_threads -L threads

step "install the plain build to a temporary prefix"
cmake --install "$work/plain" --prefix "$work/prefix" >/dev/null
for f in include/scatterpool/scatterpool.hpp lib/cmake/scatterpool/scatterpoolConfig.cmake; do
  [ -f "$work/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done

expected='worker 0: 250 norms, 0 .. 498
worker 1: 250 norms, 500 .. 998
worker 2: 250 norms, 1000 .. 1498
worker 3: 250 norms, 1500 .. 1998'
example() {  # example <build dir> <how to find scatterpool...>: build cpp/examples outside the tree, run it
  local dir=$1; shift
  cmake -S "$src/cpp/examples" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.configure.log" \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs"
  local out
  out=$("$dir/scatter_norms")
  printf '%s\n' "$out"
  [ "$out" = "$expected" ] || { echo "the example printed something else than expected:"; echo "$expected"; exit 1; }
}

step "cpp/examples against the installed package (find_package(scatterpool))"
example "$work/example" "-DCMAKE_PREFIX_PATH=$work/prefix"

step "cpp/examples in a project that embeds scatterpool (add_subdirectory)"
mkdir -p "$work/embed-src"
cat >"$work/embed-src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(embeds_scatterpool LANGUAGES CXX)
add_subdirectory("$src" scatterpool)
add_subdirectory("$src/cpp/examples" examples)
CMAKE
cmake -S "$work/embed-src" -B "$work/embed" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >"$work/embed.configure.log" \
  || { cat "$work/embed.configure.log"; exit 1; }
# embedded, scatterpool builds neither its tests nor its Python module, and installs nothing
grep -q '^SCATTERPOOL_TESTS:BOOL=OFF' "$work/embed/CMakeCache.txt"
grep -q '^SCATTERPOOL_PYTHON:BOOL=OFF' "$work/embed/CMakeCache.txt"
grep -q '^SCATTERPOOL_INSTALL:BOOL=OFF' "$work/embed/CMakeCache.txt"
cmake --build "$work/embed" -j "$jobs"
[ "$("$work/embed/examples/scatter_norms")" = "$expected" ] || { echo "the embedded example printed something else"; exit 1; }

if cmake_dir=$(python -c 'import scatterpool; print(scatterpool.get_cmake_dir())' 2>/dev/null); then
  step "cpp/examples against the package in the wheel ($cmake_dir)"
  example "$work/example-wheel" "-Dscatterpool_DIR=$cmake_dir"
fi

step "done"
