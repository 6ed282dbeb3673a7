#!/bin/sh
# test_install.sh BUILD_DIR SOURCE_DIR - installs heed from BUILD_DIR into a
# temporary prefix and builds the examples against that installation only:
# examples/normalize_dates.c with pkg-config (shared, then static), examples/
# with CMake's find_package(heed). Runs train_from_string, and normalize_dates
# with weights trained here on a small dates set. One thread throughout: the
# models are tiny, and on a busy machine two OpenMP threads made the training
# 17 times slower (32 s instead of 2 s). ctest runs it (tests/install.cmake).
# Exits 0 when every check passes.
set -u
BUILD=$1
SRC=$2
CC=${CC:-cc}
export LC_ALL=C OMP_NUM_THREADS=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/heed-install.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
PREFIX=$TMP/prefix
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run LOG CMD...: runs CMD with its output in $TMP/LOG; shows the log and
# stops the test when it fails (what follows would fail for the same reason).
run() {
    r_log=$TMP/$1
    shift
    if ! "$@" >"$r_log" 2>&1; then
        cat "$r_log" >&2
        echo "FAIL: $*" >&2
        exit 1
    fi
}

# ---- install
run install.log cmake --install "$BUILD" --prefix "$PREFIX"
for f in include/heed.h bin/heed; do
    [ -f "$PREFIX/$f" ] || fail "$f was not installed"
done
pc=$(find "$PREFIX" -name heed.pc)
libdir=$(dirname "$(dirname "$pc")")
[ -n "$pc" ] && [ -f "$libdir/libheed.a" ] && [ -f "$libdir/libheed.so" ] ||
    { fail "heed.pc, libheed.a or libheed.so missing: $(cd "$PREFIX" && find . -type f)"; exit 1; }
[ -f "$libdir/cmake/heed/heedConfig.cmake" ] || fail "no heedConfig.cmake in $libdir/cmake/heed"
[ -f "$libdir/cmake/heed/heedConfigVersion.cmake" ] || fail "no heedConfigVersion.cmake"
"$PREFIX/bin/heed" --version >/dev/null 2>&1 || fail "the installed heed command does not run"

# ---- pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs heed) || { fail "pkg-config --cflags --libs heed"; exit 1; }
static=$(pkg-config --static --cflags --libs heed) || fail "pkg-config --static heed"
# the directories heed.pc names (found from its own place: ${pcfiledir})
inc=$(pkg-config --variable=includedir heed)
lib=$(pkg-config --variable=libdir heed)
[ "$(cd "$inc" && pwd -P)" = "$(cd "$PREFIX/include" && pwd -P)" ] &&
    [ "$(cd "$lib" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] ||
    fail "heed.pc names $inc and $lib, not $PREFIX/include and $libdir"
case " $flags " in *" -I$inc "*"-L$lib "*"-lheed "*) ;;
    *) fail "pkg-config --cflags --libs heed gave '$flags'" ;; esac
# an installed tree moved elsewhere: heed.pc names the new place
cp -a "$PREFIX" "$TMP/moved"
moved=$(PKG_CONFIG_PATH="$TMP/moved/${libdir#"$PREFIX"/}/pkgconfig" pkg-config --variable=includedir heed)
[ "$(cd "$moved" && pwd -P)" = "$(cd "$TMP/moved/include" && pwd -P)" ] ||
    fail "a moved installation's heed.pc names $moved"
for want in -lheed -lyaml -ljansson -lopenblas -fopenmp; do
    case " $static " in *" $want "*) ;; *) fail "pkg-config --static lacks $want: $static" ;; esac
done
[ "$(pkg-config --modversion heed)" = "$(sed -n 's/^#define HEED_VERSION_STRING "\(.*\)"/\1/p' \
    "$PREFIX/include/heed.h")" ] || fail "heed.pc's version is not heed.h's"

# normalize_dates against the shared library, then the static one (-l:libheed.a
# makes the linker take the archive over the .so beside it).
# HEED_TEST_CFLAGS: what a sanitized build's consumers must add (its
# libraries need the sanitizer runtimes linked first)
WARN="-std=c11 -Wall -Wextra -Werror ${HEED_TEST_CFLAGS:-}"
# shellcheck disable=SC2086 # flags are words
run cc-shared.log "$CC" $WARN -o "$TMP/nd_shared" "$SRC/examples/normalize_dates.c" $flags \
    -Wl,-rpath,"$libdir"
static=$(echo "$static" | sed 's/ -lheed / -l:libheed.a /')
# shellcheck disable=SC2086
run cc-static.log "$CC" $WARN -o "$TMP/nd_static" "$SRC/examples/normalize_dates.c" $static
readelf -d "$TMP/nd_shared" | grep -q 'NEEDED.*libheed' || fail "nd_shared does not load libheed.so"
readelf -d "$TMP/nd_static" | grep -q 'NEEDED.*libheed' && fail "nd_static loads libheed.so"

# ---- CMake: find_package(heed) from the prefix alone
run cmake-config.log cmake -S "$SRC/examples" -B "$TMP/ex" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror ${HEED_TEST_CFLAGS:-}"
grep -q "^heed_DIR:PATH=$libdir/cmake/heed\$" "$TMP/ex/CMakeCache.txt" ||
    fail "find_package(heed) found $(grep '^heed_DIR' "$TMP/ex/CMakeCache.txt")"
run cmake-build.log cmake --build "$TMP/ex" -j 2
for t in train_from_string train_from_string_static; do
    if "$TMP/ex/$t" >"$TMP/$t.out" 2>&1; then
        grep -q '^the loss fell from' "$TMP/$t.out" || fail "$t: $(cat "$TMP/$t.out")"
    else
        fail "$t failed: $(cat "$TMP/$t.out")"
    fi
done
readelf -d "$TMP/ex/train_from_string" | grep -q 'NEEDED.*libheed' ||
    fail "heed::heed is not the shared library"

# ---- normalize_dates with weights trained here (H=32, three epochs: all of the
# validation set right, in about 2 s; one thread, so always the same weights)
run data.log "$BUILD/heed" data dates --out "$TMP/d" --train 3000 --valid 200 --test 200
run train.log "$BUILD/heed" train "$SRC/graphs/bahdanau_seq2seq.yaml" --data "$TMP/d/train.tsv" \
    --out "$TMP/dates.safetensors" --epochs 3 --batch 32 --lr 0.01 --dim H=32 --threads 1
printf '%s\n' "March 5, 2001" "12/25/1999" "1 January 2000" "Tuesday, September 27, 1994" \
    >"$TMP/easy.txt"
printf '%s\n' 2001-03-05 1999-12-25 2000-01-01 1994-09-27 >"$TMP/easy.want"
cut -f1 "$TMP/d/test.tsv" >>"$TMP/easy.txt"
cut -f2 "$TMP/d/test.tsv" >>"$TMP/easy.want"
for v in shared static; do
    "$TMP/nd_$v" "$SRC/graphs/bahdanau_seq2seq.yaml" "$TMP/dates.safetensors" \
        <"$TMP/easy.txt" >"$TMP/$v.out" 2>"$TMP/$v.err" ||
        { fail "normalize_dates ($v) failed: $(cat "$TMP/$v.err")"; continue; }
    n=$(wc -l <"$TMP/$v.out")
    lines=$(wc -l <"$TMP/easy.txt")
    [ "$n" -eq "$lines" ] || fail "$v: $n lines out for $lines in"
    bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "$TMP/$v.out")
    [ "$bad" -eq 0 ] || fail "$v: $bad lines are not YYYY-MM-DD, e.g. $(grep -vE \
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "$TMP/$v.out" | head -3 | tr '\n' ' ')"
    easy=$(paste "$TMP/$v.out" "$TMP/easy.want" | head -4 | awk -F'\t' '$1 != $2' | tr '\t\n' '/ ')
    [ -z "$easy" ] || fail "$v: wrong on easy dates (got/want): $easy"
    right=$(paste "$TMP/$v.out" "$TMP/easy.want" | awk -F'\t' '$1 == $2' | wc -l)
    [ "$right" -ge 190 ] || fail "$v: only $right of $n dates right"
done
cmp -s "$TMP/shared.out" "$TMP/static.out" || fail "the shared and static builds disagree"
"$TMP/nd_shared" >/dev/null 2>&1
[ $? -eq 2 ] || fail "normalize_dates without arguments should exit 2"
"$TMP/nd_shared" "$SRC/graphs/bahdanau_seq2seq.yaml" "$TMP/missing.safetensors" </dev/null \
    >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && grep -q 'missing.safetensors' "$TMP/err" ||
    fail "normalize_dates with a missing weights file: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] && echo "install: all checks passed"
[ "$fails" -eq 0 ]
