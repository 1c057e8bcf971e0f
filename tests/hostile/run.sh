#!/bin/bash
# The hostile battery: what issue #8 tried as a hostile user would, made
# repeatable. Manual (not in CTest: about 6 minutes on 2 cores with the defaults).
#
# Usage: tests/hostile/run.sh [options]
#   --build DIR        Release build tree (default build)
#   --asan DIR         ASan+UBSan build tree (-DCLGRAD_SANITIZE=ON; default build-asan)
#   --fuzz-seconds N   libFuzzer time per reader (default 60)
#   --cycles N         create/run/destroy cycles per backend (default 1000)
#   --kills N          kill -9 during --save (default 30)
#   --thread-rounds N  runs of test_threads (default 5)
#   --thread-runs N    training steps per thread, own contexts (default 300)
#   --data DIR         Fashion-MNIST (default /usr/share/datasets/fashion-mnist)
#   --device SPEC      the OpenCL device (default cpu: PoCL)
#   --only LIST        comma list of categories to run: fuzz,files,api,args,kill,disk,ro,cycles,threads,oclgrind
#   --keep             keep the work folder
# Prints one line per category as it goes, then a markdown table
# (| what was tried | how many | survived | lost | command |). Exit status 1
# when anything was lost. Needs: bash, python3, cc, clang + libclang-rt
# (fuzz), root for mount (full disk, read-only folder; otherwise those rows
# say why they were skipped).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build asan=$root/build-asan
fuzz_seconds=60 cycles=1000 kills=30 thread_rounds=5 thread_runs=300
data=/usr/share/datasets/fashion-mnist dev=cpu only="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    --asan) asan=$2; shift ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    --cycles) cycles=$2; shift ;;
    --kills) kills=$2; shift ;;
    --thread-rounds) thread_rounds=$2; shift ;;
    --thread-runs) thread_runs=$2; shift ;;
    --data) data=$2; shift ;;
    --device) dev=$2; shift ;;
    --only) only=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
case $build in /*) ;; *) build=$root/$build ;; esac
case $asan in /*) ;; *) asan=$root/$asan ;; esac
for b in "$build" "$asan"; do
  [ -f "$b/libclgrad.a" ] || { echo "run.sh: no $b/libclgrad.a: build it first (README)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-hostile.XXXXXX")
cleanup() {
  for m in "$work/disk" "$work/ro"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  [ $keep = 1 ] && echo "work folder kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0 # see .ci/run
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1
t_start=$(date +%s)

want() { [ -z "$only" ] || case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
rows=()
lost_total=0
row() { # what how_many survived lost command
  rows+=("| $1 | $2 | $3 | $4 | \`$5\` |")
  lost_total=$((lost_total + $4))
  printf '== %s: tried %s, survived %s, lost %s\n' "$1" "$2" "$3" "$4"
}
sanitizer_text() { grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)" "$@" 2>/dev/null; }

# ---- the C side, built against both trees -------------------------------------
cc_flags="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -I$root/include"
# what the static library needs (OpenCL, CLBlast, zlib, and the optional
# BLAS, oneDNN and OpenMP it was built with): the build's pkg-config file
libs="$(sed -n 's/^Libs.private: //p' "$build/clgrad.pc") $(sed -n 's/^Requires.private: //p' "$build/clgrad.pc" |
  xargs pkg-config --libs 2>/dev/null || echo "-lOpenCL -lclblast -lz")"
# shellcheck disable=SC2086
cc $cc_flags -fsanitize=address,undefined -fno-omit-frame-pointer "$root/tests/hostile/hostile.c" \
  "$asan/libclgrad.a" $libs -o "$work/hostile-asan" || { echo "run.sh: building hostile.c (ASan) failed" >&2; exit 2; }
# shellcheck disable=SC2086
cc $cc_flags -O2 "$root/tests/hostile/hostile.c" "$build/libclgrad.a" $libs -o "$work/hostile" ||
  { echo "run.sh: building hostile.c failed" >&2; exit 2; }

# Runs "hostile SUBCOMMAND ... FROM" again after a crash, from the item after
# the one it was on (its last "BEGIN <index>" line); that item counts as lost.
# Appends RESULT lines to $2.
resumable() { # log binary subcommand args... (FROM appended)
  local log=$1; shift
  local from=0 tries=0
  : >"$log"
  while [ $tries -lt 200 ]; do
    tries=$((tries + 1))
    "$@" "$from" >"$log.part" 2>"$log.err"
    local rc=$?
    cat "$log.part" >>"$log"
    if [ $rc = 0 ] && grep -q '^END' "$log.part" && ! sanitizer_text "$log.err" >/dev/null; then
      return 0
    fi
    local at
    at=$(grep '^BEGIN' "$log.part" | tail -n 1 | awk '{print $2}')
    if [ $rc = 0 ] || grep -q '^END' "$log.part"; then
      echo "RESULT files lost exit status $rc or a sanitizer report at exit: $(head -c 400 "$log.err" | tr '\n' ' ')" >>"$log"
      return 0
    fi
    echo "RESULT files lost item $at crashed the reader (exit $rc): $(grep -m1 -E 'ERROR|runtime error|Segmentation' "$log.err")" >>"$log"
    cp "$log.err" "$log.crash-$at"
    [ -z "$at" ] && return 1
    from=$((at + 1))
  done
}

# ---- 1. fuzzed reads ---------------------------------------------------------------
if want fuzz; then
  echo "-- 1. libFuzzer, ${fuzz_seconds}s per reader"
  if command -v clang >/dev/null; then
    FUZZ_OUT=$work/fuzz sh "$root/fuzz/run.sh" "$fuzz_seconds" >"$work/fuzz.log" 2>&1
    frc=$?
    execs=0
    for r in idx npy safetensors; do
      n=$(grep -h '^stat::number_of_executed_units' "$work/fuzz/$r.log" 2>/dev/null | awk '{s += $2} END {print s + 0}')
      echo "   $r: $n executions"
      execs=$((execs + n))
    done
    crashes=$(ls "$work/fuzz" 2>/dev/null | grep -cE -- '-(crash|leak|timeout|oom|slow-unit)-')
    [ $frc != 0 ] && [ "$crashes" = 0 ] && crashes=1
    row "Fuzzed reads (libFuzzer + ASan + UBSan; IDX, .npy, safetensors; execution count summed)" \
      "$execs" "$((crashes ? 0 : execs))" "$crashes" "fuzz/run.sh $fuzz_seconds"
  else
    echo "   no clang: skipped"
    row "Fuzzed reads: NOT RUN (no clang)" 0 0 0 "fuzz/run.sh $fuzz_seconds"
  fi
fi

# ---- 2. hand-made bad files --------------------------------------------------------
if want files; then
  echo "-- 2. hand-made bad files (ASan build; checkpoints on reference and $dev)"
  "$work/hostile-asan" good-ckpt reference "$work/good.safetensors" &&
    python3 "$root/tests/hostile/badfiles.py" "$work/bad" "$work/good.safetensors" | sed 's/^/   /'
  resumable "$work/files.log" "$work/hostile-asan" feed "reference,$dev" "$work/bad/manifest"
  nfiles=$(grep -c . "$work/bad/manifest")
  s=$(grep -c '^RESULT files survived' "$work/files.log")
  l=$(grep -c '^RESULT files lost' "$work/files.log")
  grep '^RESULT files lost' "$work/files.log" | sed 's/^/   LOST: /'
  row "Hand-made bad files ($nfiles files: safetensors, .npy, IDX plain and gzip, checkpoints of a real graph; each checkpoint on reference and $dev, parameters compared after the refusal; ASan build)" \
    "$((s + l))" "$s" "$l" "tests/hostile/run.sh --only files"
fi

# ---- 3. bad API calls ----------------------------------------------------------------
if want api; then
  echo "-- 3. bad API calls (ASan build)"
  at=0 as=0 al=0
  for d in reference "$dev"; do
    "$work/hostile-asan" api "$d" >"$work/api-$d.log" 2>"$work/api-$d.err"
    rc=$?
    s=$(grep -c '^RESULT api survived' "$work/api-$d.log")
    l=$(grep -c '^RESULT api lost' "$work/api-$d.log")
    if [ $rc != 0 ] || sanitizer_text "$work/api-$d.err" >/dev/null || ! grep -q '^END' "$work/api-$d.log"; then
      echo "   LOST: api on $d: exit $rc, last call $(grep '^BEGIN' "$work/api-$d.log" | tail -n 1)"
      sed -n '1,30p' "$work/api-$d.err" | sed 's/^/     /'
      l=$((l + 1))
    fi
    grep '^RESULT api lost' "$work/api-$d.log" | sed 's/^/   LOST: /'
    echo "   $d: $((s + l)) calls, $l lost"
    at=$((at + s + l)) as=$((as + s)) al=$((al + l))
  done
  row "Bad API calls on reference and $dev (ASan build), then the abused graph trains bitwise as a clean one" \
    "$at" "$as" "$al" "tests/hostile/run.sh --only api"
fi

# ---- 4. bad program invocations --------------------------------------------------
if want args; then
  echo "-- 4. bad program invocations (ASan build's programs)"
  a=$work/args
  mkdir -p "$a/folder" "$a/emptydata" "$a/garbagedata"
  B=$asan/bench
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    head -c 100 /dev/urandom >"$a/garbagedata/$f"
  done
  echo "precious" >"$a/sentinel"
  mkfifo "$a/fifo"
  mknod "$a/devnull" c 1 3 2>/dev/null || ln -s /dev/null "$a/devnull"
  ln -s fifo "$a/link-to-fifo"
  ln -s devnull "$a/link-to-dev"
  ln -s folder "$a/link-to-folder"
  ln -s loop2 "$a/loop1"; ln -s loop1 "$a/loop2"
  ln -s /nonexistent/x "$a/dangling-into-missing"
  head -c 5000 /dev/urandom >"$a/garbage.safetensors"
  : >"$a/empty.safetensors"
  "$work/hostile" good-ckpt reference "$a/probe.safetensors"
  # a real clgrad-train checkpoint to resume with conflicting options
  "$build/bench/clgrad-train" --model mlp --limit 300 --epochs 1 --data "$data" --save "$a/ck.safetensors" >/dev/null 2>&1 ||
    echo "   (could not make a clgrad-train checkpoint; resume rows will say so)"
  cp "$a/ck.safetensors" "$a/ck.orig"
  ( cd "$a" && sha256sum sentinel ck.safetensors probe.safetensors garbage.safetensors >"$a/sums" )
  T="$B/clgrad-train --data $data --limit 100 --epochs 1"
  TR="$B/clgrad-train --data $data"
  cases=(
    # clgrad-train
    "$T --bogus 1" "$T --bogus" "$T -x" "$T stray" "$T --epochs" "$T --epochs 0" "$T --epochs -1" "$T --epochs abc"
    "$T --epochs 1e3" "$T --epochs 99999999999999999999" "$T --epochs ''" "$T --epochs 100001" "$T --batch 0"
    "$T --batch 65537" "$T --batch -3" "$T --batch 1.5" "$T --width 0" "$T --width 4096" "$T --limit 0" "$T --limit -1"
    "$T --limit 1e9" "$T --warmup -1" "$T --warmup x" "$T --seed -1" "$T --seed 2147483648" "$T --seed abc"
    "$T --lr 0" "$T --lr -1" "$T --lr nan" "$T --lr inf" "$T --lr -inf" "$T --lr 1e39" "$T --lr abc" "$T --lr ''"
    "$T --lr 1e-50" "$T --model resnet" "$T --model ''" "$T --optimizer lbfgs" "$T --schedule linear"
    "$T --device no-such-device" "$T --device 9:9" "$T --device 0:99" "$T --device -1:0"
    "$TR --data /nonexistent --limit 100 --epochs 1" "$TR --data $a/emptydata --limit 100 --epochs 1"
    "$TR --data $a/garbagedata --limit 100 --epochs 1" "$TR --data $a/sentinel --limit 100 --epochs 1"
    "$T --save /nonexistent/ck.safetensors" "$T --save $a/folder" "$T --save $a/fifo" "$T --save $a/devnull"
    "$T --save $a/link-to-fifo" "$T --save $a/link-to-dev" "$T --save $a/link-to-folder" "$T --save $a/loop1"
    "$T --save $a/dangling-into-missing" "$T --save ''" "$T --json /nonexistent/x.json" "$T --json $a/folder"
    "$T --json $a/fifo" "$T --json $a/devnull"
    "$TR --resume /nonexistent" "$TR --resume $a/garbage.safetensors" "$TR --resume $a/empty.safetensors"
    "$TR --resume $a/folder" "$TR --resume $a/fifo" "$TR --resume $a/devnull" "$TR --resume $a/link-to-fifo" "$TR --resume /dev/zero" "$TR --resume $a/probe.safetensors"
    "$TR --resume $a/ck.safetensors --seed 7" "$TR --resume $a/ck.safetensors --lr 0.5"
    "$TR --resume $a/ck.safetensors --epochs 2 --limit 100" "$TR --resume $a/ck.safetensors --warmup 5"
    "$TR --resume $a/ck.safetensors --model cnn" "$TR --resume $a/ck.safetensors --optimizer sgd"
    "$TR --resume $a/ck.safetensors --batch 32" "$TR --resume $a/ck.safetensors --width 8"
    "$TR --resume $a/ck.safetensors --schedule cosine" "$TR --resume $a/ck.safetensors --limit 100"
    "$TR --resume $a/ck.safetensors --json /nonexistent/x.json"
    # clgrad-bench
    "$B/clgrad-bench --bogus" "$B/clgrad-bench stray" "$B/clgrad-bench --repeat 0" "$B/clgrad-bench --repeat -1"
    "$B/clgrad-bench --repeat abc" "$B/clgrad-bench --repeat" "$B/clgrad-bench --size 1e30" "$B/clgrad-bench --size inf"
    "$B/clgrad-bench --size nan" "$B/clgrad-bench --size 0" "$B/clgrad-bench --size -1" "$B/clgrad-bench --size abc"
    "$B/clgrad-bench --size 0.001" "$B/clgrad-bench --suite nope" "$B/clgrad-bench --device no-such-device"
    "$B/clgrad-bench --device 9:9" "$B/clgrad-bench --check-json /nonexistent" "$B/clgrad-bench --check-json $a/garbage.safetensors"
    "$B/clgrad-bench --check-json $a/empty.safetensors" "$B/clgrad-bench --check-json $a/folder"
    "$B/clgrad-bench --check-json $a/fifo" "$B/clgrad-bench --check-json $a/devnull" "$B/clgrad-bench --check-json /dev/zero"
    "$B/clgrad-bench --compare $a/fifo --device reference --suite startup" "$B/clgrad-bench --json $a/fifo --device reference --suite startup"
    "$B/clgrad-bench --json $a/link-to-dev --device reference --suite startup"
    "$B/clgrad-bench --compare /nonexistent --device reference --suite startup"
    "$B/clgrad-bench --json /nonexistent/x.json --device reference --suite startup"
    "$B/clgrad-bench --csv /nonexistent/x.csv --device reference --suite startup"
    "$B/clgrad-bench --svg $a/folder --device reference --suite startup"
    # clgrad-hello
    "$B/clgrad-hello --bogus" "$B/clgrad-hello stray" "$B/clgrad-hello --device no-such-device" "$B/clgrad-hello --device 9:9"
    "$B/clgrad-hello --steps abc" "$B/clgrad-hello --steps -5" "$B/clgrad-hello --steps 1e30" "$B/clgrad-hello --steps"
    "$B/clgrad-hello --steps 99999999999" "$B/clgrad-hello --steps 0" "$B/clgrad-hello --steps ''"
    # clgrad-linreg
    "$B/clgrad-linreg --bogus" "$B/clgrad-linreg --rows 5" "$B/clgrad-linreg --rows abc" "$B/clgrad-linreg --rows -1"
    "$B/clgrad-linreg --rows 1e30" "$B/clgrad-linreg --rows 99999999999" "$B/clgrad-linreg --steps 0"
    "$B/clgrad-linreg --steps abc" "$B/clgrad-linreg --steps 2000000000" "$B/clgrad-linreg --seed abc"
    "$B/clgrad-linreg --seed -1" "$B/clgrad-linreg --device no-such-device" "$B/clgrad-linreg --device 9:9"
  )
  n=0 s=0 l=0
  for c in "${cases[@]}"; do
    n=$((n + 1))
    ( cd "$a" && eval "timeout 120 $c" ) >"$a/out" 2>"$a/err"
    rc=$?
    why=""
    first=$(grep -m1 . "$a/err")
    if [ $rc = 0 ]; then why="exit 0"
    elif [ $rc = 124 ]; then why="hung (killed after 120 s)"
    elif [ $rc -ge 128 ]; then why="killed by signal $((rc - 128))"
    elif sanitizer_text "$a/err" >/dev/null; then why="sanitizer report"
    elif [ -z "$first" ]; then why="no message"
    fi
    if ! ( cd "$a" && sha256sum --quiet -c sums >/dev/null 2>&1 ); then
      why="${why:+$why; }a file changed"
      cp "$a/ck.orig" "$a/ck.safetensors"
      echo "precious" >"$a/sentinel"
    fi
    for p in folder fifo devnull; do [ -e "$a/$p" ] || why="${why:+$why; }$p replaced"; done
    [ -p "$a/fifo" ] || why="${why:+$why; }fifo replaced"
    [ -c "$a/devnull" ] || [ -L "$a/devnull" ] || why="${why:+$why; }device node replaced"
    printf '%s\t%s\t%s\n' "$rc" "$c" "$first" >>"$work/args.log"
    if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: $c -> $why: $first"; fi
  done
  row "Bad program invocations (clgrad-train, -bench, -hello, -linreg of the ASan build): a message, exit != 0, no signal, no sanitizer report, no file changed" \
    "$n" "$s" "$l" "tests/hostile/run.sh --only args"
fi

# ---- 5. kill -9 during --save -------------------------------------------------------
if want kill; then
  echo "-- 5. kill -9 during --save ($kills times)"
  k=$work/kill
  mkdir -p "$k"
  tr="$build/bench/clgrad-train"
  # how long a full run takes, to spread the kills over it
  t0=$(date +%s%N)
  "$tr" --model mlp --limit 2000 --epochs 3 --data "$data" --save "$k/full.safetensors" >/dev/null 2>&1
  t1=$(date +%s%N)
  full_ms=$(( (t1 - t0) / 1000000 ))
  rm -f "$k/full.safetensors"
  echo "   a full run takes $full_ms ms"
  s=0 l=0 present=0 temps=0 during=0 stale=0 finished=0
  for i in $(seq 1 "$kills"); do
    rm -rf "$k/run" && mkdir -p "$k/run"
    # odd kills: the moment the n-th save's temporary file appears (aiming
    # at a save); even kills: a random time over the whole run
    if [ $((i % 2)) = 1 ]; then mode=save arg=$(( (i / 2) % 3 + 1 ))
    else mode=time arg=$(python3 -c "import random; print(int($full_ms * (0.1 + 0.8 * random.random())))"); fi
    how=$(python3 "$root/tests/hostile/kill_during_save.py" $mode "$arg" "$k/run/ck.safetensors" -- \
      "$tr" --model mlp --limit 2000 --epochs 3 --data "$data" --save "$k/run/ck.safetensors")
    # during a save: its temporary file was there at the moment of the kill
    case $how in *tmp=1*) during=$((during + 1)) ;; finished*) finished=$((finished + 1)); continue ;; esac
    why=""
    state=absent
    others=$(ls -A "$k/run" | grep -vxE 'ck.safetensors')
    [ -n "$others" ] && temps=$((temps + 1))
    if [ -e "$k/run/ck.safetensors" ]; then
      present=$((present + 1)) state=present
      "$work/hostile" stcheck "$k/run/ck.safetensors" >"$k/check" 2>&1 || why="half-written: $(cat "$k/check")"
      if [ -z "$why" ]; then
        "$tr" --resume "$k/run/ck.safetensors" --data "$data" >"$k/resume" 2>&1 ||
          why="resume failed: $(tail -n 1 "$k/resume")"
      fi
    else
      # nothing saved yet: a fresh run in the same folder must save
      "$tr" --model mlp --limit 2000 --epochs 1 --data "$data" --save "$k/run/ck.safetensors" >"$k/resume" 2>&1 ||
        why="a save beside the leftovers failed: $(tail -n 1 "$k/resume")"
    fi
    # what the kill left, after the next successful save of the same checkpoint
    if [ -n "$others" ] && [ -z "$why" ]; then
      if [ $state = present ]; then
        "$tr" --model mlp --limit 2000 --epochs 1 --data "$data" --save "$k/run/ck.safetensors" >"$k/resume" 2>&1 ||
          why="a save beside the leftovers failed: $(tail -n 1 "$k/resume")"
      fi
      for f in $others; do [ -e "$k/run/$f" ] && stale=$((stale + 1)); done
    fi
    printf 'kill %d (%s %s): %s; checkpoint %s; left [%s] %s\n' "$i" $mode "$arg" "$how" $state "$(echo $others)" \
      "$why" >>"$work/kill.log"
    if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: kill $i ($how): $why"; fi
  done
  sed 's/^/   /' "$work/kill.log"
  killed=$((kills - finished))
  echo "   $killed kills ($finished runs ended before their kill), $during of them during a save; a checkpoint was there"
  echo "   after $present (each read whole and resumed); $temps left a temporary file, $stale of them still there after a later save"
  row "kill -9 during clgrad-train --save (mlp, --limit 2000, 3 epochs; $during kills during a save, the rest at random times): the checkpoint absent or complete and resumable" \
    "$killed" "$s" "$l" "tests/hostile/run.sh --only kill --kills $kills"
  row "… the kills during a save: the killed writer's temporary file (.ck.safetensors.PID-N.tmp, full size) still there after the next save of the checkpoint" \
    "$during" "$((during - stale))" "$stale" "tests/hostile/run.sh --only kill --kills $kills"
fi

# ---- 6. full disk ---------------------------------------------------------------------
if want disk; then
  echo "-- 6. full disk"
  d=$work/disk
  mkdir -p "$d"
  n=0 s=0 l=0
  if mount -t tmpfs -o size=256k tmpfs "$d" 2>"$work/mount.err"; then
    how="tmpfs of 256 KiB"
    # a good small checkpoint, then saves that do not fit over it
    "$work/hostile" save-big "$d/ck.safetensors" 1000 >/dev/null
    cp "$d/ck.safetensors" "$work/disk-good"
    for floats in 70000 200000 1000000; do
      n=$((n + 1))
      "$work/hostile-asan" save-big "$d/ck.safetensors" $floats >"$work/disk.out" 2>&1
      rc=$?
      why=""
      [ $rc = 1 ] || why="exit $rc"
      grep -q "No space left\|ENOSPC\|space" "$work/disk.out" || why="${why:+$why; }message: $(head -n 1 "$work/disk.out")"
      cmp -s "$d/ck.safetensors" "$work/disk-good" || why="${why:+$why; }the old file changed"
      [ "$(ls -A "$d")" = "ck.safetensors" ] || why="${why:+$why; }left: $(ls -A "$d" | tr '\n' ' ')"
      sanitizer_text "$work/disk.out" >/dev/null && why="${why:+$why; }sanitizer report"
      echo "   $floats floats: $(head -n 1 "$work/disk.out")"
      if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: $why"; fi
    done
    # clgrad-train's own checkpoint (2.8 MB) into the same full disk
    n=$((n + 1))
    "$build/bench/clgrad-train" --model mlp --limit 200 --epochs 1 --data "$data" --save "$d/ck.safetensors" >"$work/disk.out" 2>&1
    rc=$?
    why=""
    [ $rc != 0 ] && [ $rc -lt 128 ] || why="exit $rc"
    cmp -s "$d/ck.safetensors" "$work/disk-good" || why="${why:+$why; }the old file changed"
    [ "$(ls -A "$d")" = "ck.safetensors" ] || why="${why:+$why; }left: $(ls -A "$d" | tr '\n' ' ')"
    echo "   clgrad-train --save: $(tail -n 1 "$work/disk.out")"
    if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: $why"; fi
    umount "$d"
  else
    how="mount refused ($(head -n 1 "$work/mount.err")); ulimit -f instead"
  fi
  # RLIMIT_FSIZE, SIGXFSZ ignored: writes past 256 KiB fail with EFBIG
  mkdir -p "$work/fsize"
  "$work/hostile" save-big "$work/fsize/ck.safetensors" 1000 >/dev/null
  cp "$work/fsize/ck.safetensors" "$work/fsize-good"
  n=$((n + 1))
  ( trap '' XFSZ; ulimit -f 256; exec "$work/hostile-asan" save-big "$work/fsize/ck.safetensors" 200000 ) >"$work/fsize.out" 2>&1
  rc=$?
  why=""
  [ $rc = 1 ] || why="exit $rc"
  cmp -s "$work/fsize/ck.safetensors" "$work/fsize-good" || why="${why:+$why; }the old file changed"
  [ "$(ls -A "$work/fsize")" = "ck.safetensors" ] || why="${why:+$why; }left: $(ls -A "$work/fsize" | tr '\n' ' ')"
  echo "   ulimit -f 256: $(head -n 1 "$work/fsize.out")"
  if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: $why"; fi
  row "Full disk: saves that do not fit over a good checkpoint ($how; and ulimit -f 256): an error, the old file intact, no temp file" \
    "$n" "$s" "$l" "tests/hostile/run.sh --only disk"
fi

# ---- 7. read-only folder ------------------------------------------------------------
if want ro; then
  echo "-- 7. read-only folder"
  r=$work/ro
  mkdir -p "$r"
  n=0 s=0 l=0
  if mount -t tmpfs -o size=8m tmpfs "$r" 2>"$work/mount.err"; then
    "$work/hostile" save-big "$r/ck.safetensors" 1000 >/dev/null
    "$work/hostile" good-ckpt reference "$r/probe.safetensors"
    ( cd "$r" && sha256sum ck.safetensors probe.safetensors >"$work/ro.sums" )
    mount -o remount,ro "$r"
    check_ro() { # label command...
      n=$((n + 1))
      "${@:2}" >"$work/ro.out" 2>&1
      local rc=$? why=""
      [ $rc != 0 ] && [ $rc -lt 128 ] || why="exit $rc"
      grep -qi "read-only" "$work/ro.out" || why="${why:+$why; }message: $(tail -n 1 "$work/ro.out")"
      sanitizer_text "$work/ro.out" >/dev/null && why="${why:+$why; }sanitizer report"
      ( cd "$r" && sha256sum --quiet -c "$work/ro.sums" >/dev/null 2>&1 ) || why="${why:+$why; }a file changed"
      [ "$(ls -A "$r" | tr '\n' ' ')" = "ck.safetensors probe.safetensors " ] || why="${why:+$why; }left: $(ls -A "$r" | tr '\n' ' ')"
      echo "   $1: $(tail -n 1 "$work/ro.out")"
      if [ -z "$why" ]; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: $1: $why"; fi
    }
    check_ro "checkpoint over an existing file" "$work/hostile-asan" save-big "$r/ck.safetensors" 100
    check_ro "checkpoint to a new file" "$work/hostile-asan" save-big "$r/new.safetensors" 100
    check_ro "probe checkpoint over an existing file" "$work/hostile-asan" good-ckpt reference "$r/probe.safetensors"
    check_ro "clgrad-train --save" "$build/bench/clgrad-train" --limit 100 --epochs 1 --data "$data" --save "$r/ck.safetensors"
    check_ro "clgrad-train --json" "$build/bench/clgrad-train" --limit 100 --epochs 1 --data "$data" --json "$r/x.json"
    check_ro "clgrad-bench --json" "$build/bench/clgrad-bench" --device reference --suite startup --json "$r/x.json"
    umount "$r"
    how="tmpfs remounted read-only"
  else
    how="NOT RUN: mount refused ($(head -n 1 "$work/mount.err"))"
  fi
  row "Read-only folder ($how): saves fail with a message and touch nothing" "$n" "$s" "$l" "tests/hostile/run.sh --only ro"
fi

# ---- 8. create/run/destroy cycles ---------------------------------------------------
if want cycles; then
  echo "-- 8. $cycles create/run/destroy cycles per backend (Release build)"
  n=0 s=0 l=0 notes=""
  for d in "$dev" reference; do
    "$work/hostile" cycles "$d" "$cycles" >"$work/cycles-$d.log" 2>&1
    rc=$?
    sed -n 's/^CYCLES /   /p' "$work/cycles-$d.log"
    failed=$(sed -n 's/^CYCLES .* failed=\([0-9]*\).*/\1/p' "$work/cycles-$d.log")
    growth=$(sed -n 's/^CYCLES .* growth_per_cycle_kib=\([-0-9.]*\).*/\1/p' "$work/cycles-$d.log")
    n=$((n + cycles))
    if [ $rc != 0 ] || [ -z "$failed" ]; then l=$((l + cycles)); echo "   LOST: $d: exit $rc"; continue; fi
    if grep -q '^RESULT cycles lost' "$work/cycles-$d.log" && [ "$failed" = 0 ]; then
      l=$((l + 1)); s=$((s + cycles - 1)); echo "   LOST: $d: RSS grows $growth KiB a cycle"
    else
      l=$((l + failed)); s=$((s + cycles - failed))
    fi
    notes="$notes $d ${growth} KiB/cycle;"
  done
  row "Context + GEMM graph + run + destroy cycles on $dev and reference (RSS growth after warm-up:$notes)" \
    "$n" "$s" "$l" "tests/hostile/run.sh --only cycles --cycles $cycles"
fi

# ---- 9. threads ---------------------------------------------------------------------
if want threads; then
  echo "-- 9. threads"
  n=0 s=0 l=0
  tt=$build/tests/test_threads
  for i in $(seq 1 "$thread_rounds"); do
    n=$((n + 1))
    if "$tt" >"$work/threads-$i.log" 2>&1; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: test_threads round $i: $(tail -n 3 "$work/threads-$i.log" | tr '\n' ' ')"; fi
  done
  if [ -x "$asan/tests/test_threads" ]; then
    n=$((n + 1))
    if ASAN_OPTIONS=detect_leaks=1:use_sigaltstack=0:intercept_tls_get_addr=0 "$asan/tests/test_threads" >"$work/threads-asan.log" 2>&1 &&
      ! sanitizer_text "$work/threads-asan.log" >/dev/null; then s=$((s + 1)); else l=$((l + 1)); echo "   LOST: test_threads (ASan)"; fi
  fi
  echo "   test_threads: $n runs (each: 6 forked rounds x 8 threads x 6 contexts, on reference and every device)"
  # 8 threads, each its own context (alternately $dev and reference), training
  for b in hostile hostile-asan; do
    "$work/$b" threads "$dev,reference" 8 "$thread_runs" >"$work/threads-own-$b.log" 2>&1
    rc=$?
    ts=$(grep -c '^RESULT threads survived' "$work/threads-own-$b.log")
    tl=$(grep -c '^RESULT threads lost' "$work/threads-own-$b.log")
    if [ $rc != 0 ] || sanitizer_text "$work/threads-own-$b.log" >/dev/null; then tl=$((tl + 1)); echo "   LOST: $b threads exit $rc"; fi
    grep '^RESULT threads lost' "$work/threads-own-$b.log" | sed 's/^/   LOST: /'
    echo "   $b: 8 threads x $thread_runs training steps on their own contexts: $ts equal to the lone run"
    n=$((n + ts + tl)) s=$((s + ts)) l=$((l + tl))
  done
  row "Threads: test_threads x $thread_rounds (+1 under ASan), and 8 threads x $thread_runs steps on their own contexts ($dev and reference at once, Release and ASan), each compared bitwise with a lone run" \
    "$n" "$s" "$l" "tests/hostile/run.sh --only threads"
fi

# ---- 10. Oclgrind ----------------------------------------------------------------------
if want oclgrind; then
  echo "-- 10. kernels on Oclgrind"
  ctest --test-dir "$build" -L oclgrind --output-on-failure >"$work/oclgrind.log" 2>&1
  n=$(grep -cE 'Test +#[0-9]+: ' "$work/oclgrind.log")
  s=$(grep -E 'Test +#[0-9]+: ' "$work/oclgrind.log" | grep -c ' Passed')
  grep -E 'tests passed|Total Test time' "$work/oclgrind.log" | sed 's/^/   /'
  [ "$n" = 0 ] && echo "   no oclgrind tests (is oclgrind installed? CMake says)"
  row "Kernels on Oclgrind (out-of-bounds, data races, API misuse; uninitialised values)" "$n" "$s" "$((n - s))" \
    "ctest --test-dir build -L oclgrind"
fi

t_end=$(date +%s)
echo
echo "| what was tried | how many | survived | lost | command |"
echo "|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "Total time: $((t_end - t_start)) s. Lost: $lost_total."
[ $lost_total = 0 ]
