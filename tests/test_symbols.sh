#!/bin/sh
# test_symbols.sh LIBHEED_SO HEADER API_MD - the shared library exports the
# API and nothing else, and docs/API.md covers all of it:
#   (a) `nm -D --defined-only` lists only heed_* functions (and the names the
#       linker itself defines, such as _init or _end);
#   (b) every function the header declares with HEED_API is exported;
#   (c) docs/API.md shows each of them as `name(`;
#   (d) every exported heed_* symbol is declared in the header;
#   (e) docs/API.md names every other identifier of the header: types, struct
#       tags, enum constants and macros (heed_* and HEED_*, the include guard
#       HEED_H aside).
#   (f) with LIBHEED_A: no object of the library defines a writable variable
#       (.data, .bss or thread-local): the library has no global mutable state.
# ctest runs it (tests/CMakeLists.txt). Exits 0 when every check passes.
set -u
if [ $# -ne 3 ] && [ $# -ne 4 ]; then
    echo "usage: $0 LIBHEED_SO HEADER API_MD [LIBHEED_A]" >&2
    exit 2
fi
SO=$1
HEADER=$2
DOC=$3
ARCHIVE=${4:-}
for f in "$SO" "$HEADER" "$DOC"; do
    [ -r "$f" ] || { echo "FAIL: cannot read $f" >&2; exit 1; }
done
command -v nm >/dev/null 2>&1 || { echo "FAIL: nm (binutils) is not installed" >&2; exit 1; }
export LC_ALL=C
TMP=$(mktemp -d "${TMPDIR:-/tmp}/heed-symbols.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# fail_list MESSAGE FILE: one failure listing FILE's lines, when there are any.
fail_list() {
    if [ -s "$2" ]; then
        fail "$1:"
        sed 's/^/    /' "$2" >&2
    fi
}

# ---- the exports: "TYPE NAME" per defined dynamic symbol, version suffixes
# (name@VERSION, name@@VERSION) dropped
if ! nm -D --defined-only "$SO" >"$TMP/nm.out" 2>"$TMP/nm.err"; then
    cat "$TMP/nm.err" >&2
    echo "FAIL: nm -D --defined-only $SO" >&2
    exit 1
fi
awk 'NF >= 2 { name = $NF; sub(/@.*/, "", name); print $(NF - 1), name }' "$TMP/nm.out" \
    >"$TMP/exports"

# Names the linker or the C runtime define in any shared object; none is code
# of ours. Version nodes (type A) would come from a version script, which
# heed does not use, so they are not excused.
linker_names=" _init _fini __bss_start _edata _end __bss_start__ __bss_end__ _bss_end__
 __end__ __data_start data_start __dso_handle __TMC_END__ _DYNAMIC _GLOBAL_OFFSET_TABLE_
 _IO_stdin_used "

: >"$TMP/unexpected"
: >"$TMP/exported"
while read -r type name; do
    case "$linker_names" in *" $name "*) continue ;; esac
    case "$name" in
    heed_*)
        if [ "$type" = T ]; then
            echo "$name" >>"$TMP/exported"
        else
            echo "$name (nm type $type: not a function)" >>"$TMP/unexpected"
        fi
        ;;
    *) echo "$name (nm type $type)" >>"$TMP/unexpected" ;;
    esac
done <"$TMP/exports"
sort -u "$TMP/exported" -o "$TMP/exported"
fail_list "(a) $SO exports symbols that are not heed_* functions" "$TMP/unexpected"
if grep -q '(nm type i' "$TMP/unexpected"; then
    echo "    note: type i is an ifunc, as GCC's target_clones attribute makes: GCC exports" \
        "it and its resolver whatever -fvisibility or visibility(\"hidden\") say; a" \
        "linker version script naming the header's functions hides them" >&2
fi
[ -s "$TMP/exported" ] || fail "(a) $SO exports no heed_* function at all"

# ---- the header without /* */ comments (it has no // ones) and without
# preprocessor lines, one statement (up to a ';' or a brace) per line
awk '
    BEGIN { text = "" }
    skip { skip = /\\$/; next }            # continuation of a # line
    /^[ \t]*#/ { skip = /\\$/; next }
    { text = text " " $0 }
    END {
        out = ""
        while ((i = index(text, "/*")) > 0) {
            rest = substr(text, i + 2)
            j = index(rest, "*/")
            out = out substr(text, 1, i - 1) " "
            text = j > 0 ? substr(rest, j + 2) : ""
        }
        out = out text
        gsub(/[;{}]/, "&\n", out)
        print out
    }' "$HEADER" >"$TMP/code"

# functions: the identifier before the first '(' of a HEED_API statement
grep 'HEED_API' "$TMP/code" |
    sed -n 's/^[^(]*[^A-Za-z0-9_]\(heed_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' |
    sort -u >"$TMP/declared"
[ -s "$TMP/declared" ] || fail "found no HEED_API function in $HEADER"
n_api=$(grep -c 'HEED_API' "$TMP/code")
n_declared=$(wc -l <"$TMP/declared")
[ "$n_api" -eq "$n_declared" ] ||
    fail "$HEADER has $n_api HEED_API statements but $n_declared function names were read" \
        "from them (a declaration this script cannot parse?)"

# (b) declared but not exported, (d) exported but not declared
comm -23 "$TMP/declared" "$TMP/exported" >"$TMP/missing"
fail_list "(b) declared with HEED_API in $HEADER but not exported by $SO" "$TMP/missing"
comm -13 "$TMP/declared" "$TMP/exported" >"$TMP/undeclared"
fail_list "(d) exported by $SO but not declared in $HEADER" "$TMP/undeclared"

# (c) every function shown in docs/API.md as name(
: >"$TMP/undocumented"
while read -r name; do
    grep -Eq "(^|[^A-Za-z0-9_])${name}[ ]*\\(" "$DOC" || echo "$name" >>"$TMP/undocumented"
done <"$TMP/declared"
fail_list "(c) functions $DOC does not show as 'name('" "$TMP/undocumented"

# (e) every other identifier of the header named in docs/API.md: those of the
# statements, and the macros (from the # lines the statements leave out)
{
    tr -c 'A-Za-z0-9_' '\n' <"$TMP/code" | grep -E '^(heed_|HEED_)[A-Za-z0-9_]*$'
    sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' \
        "$HEADER"
} | grep -vx 'HEED_H' | sort -u | comm -23 - "$TMP/declared" >"$TMP/identifiers"
: >"$TMP/unnamed"
while read -r name; do
    grep -Eq "(^|[^A-Za-z0-9_])$name([^A-Za-z0-9_]|\$)" "$DOC" || echo "$name" >>"$TMP/unnamed"
done <"$TMP/identifiers"
fail_list "(e) types, constants and macros of $HEADER that $DOC does not name" "$TMP/unnamed"

if [ -n "$ARCHIVE" ]; then
    # objdump -t: VALUE FLAGS SECTION SIZE NAME; object symbols ("O") of a
    # writable section are variables someone could change
    objdump -t "$ARCHIVE" | awk '$0 ~ / O / {
        for (i = 1; i <= NF; i++)
            if ($i ~ /^\.(data|bss|tdata|tbss)(\.|$)/ && $i !~ /^\.data\.rel\.ro/) print $NF " (" $i ")"
    }' | grep -v '^__odr_asan\.' >"$TMP/mutable" # sanitizer bookkeeping is not ours
    fail_list "(f) writable variables in $ARCHIVE" "$TMP/mutable"
fi

if [ "$fails" -eq 0 ]; then
    echo "symbols: $n_declared functions exported, all declared in $(basename "$HEADER")" \
        "and documented, with $(wc -l <"$TMP/identifiers") types, constants and macros"
fi
[ "$fails" -eq 0 ]
