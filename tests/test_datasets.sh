#!/bin/sh
# test_datasets.sh HEED WORKDIR PART - checks `heed data` (tools/cmd_data.c,
# tools/data_*.c). PART is cli, dates, addition, g2p or langid; ctest runs each
# (tests/datasets.cmake). Exits 0 when every check passes, 1 when one fails,
# 77 (skipped) when the Debian source files of g2p or langid are missing.
set -u
HEED=$1
WORK=$2
PART=$3
export LC_ALL=C TZ=UTC
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# gen NAME DIR ARGS...: heed data NAME --out DIR ARGS, which must succeed.
gen() {
    g_name=$1 g_dir=$2
    shift 2
    if ! "$HEED" data "$g_name" --out "$g_dir" "$@" >"$g_dir.log" 2>&1; then
        cat "$g_dir.log" >&2
        fail "heed data $g_name --out $g_dir $* failed"
    fi
}

# exits_with CODE ARGS...: heed ARGS must exit with CODE; its stderr is in $WORK/err.
exits_with() {
    e_want=$1
    shift
    "$HEED" "$@" >"$WORK/out" 2>"$WORK/err"
    e_got=$?
    [ "$e_got" -eq "$e_want" ] || fail "heed $* exited $e_got, not $e_want: $(cat "$WORK/err")"
}

# check_split FILE ROWS MINCOLS MAXCOLS: the row count, and every row has
# MINCOLS..MAXCOLS tab-separated columns, none of them empty.
check_split() {
    c_n=$(wc -l <"$1")
    [ "$c_n" -eq "$2" ] || fail "$1: $c_n rows, not $2"
    c_bad=$(awk -F'\t' -v lo="$3" -v hi="$4" '
        NF < lo || NF > hi { print NR ": " NF " columns"; exit }
        { for (i = 1; i <= NF; i++) if ($i == "") { print NR ": empty column " i; exit } }' "$1")
    [ -z "$c_bad" ] || fail "$1: row $c_bad"
}

# check_splits DIR TRAIN VALID TEST MINCOLS MAXCOLS: check_split on each split,
# what heed printed about it, and that no source is in two rows (so no
# source is in two splits).
check_splits() {
    s_dir=$1
    check_split "$s_dir/train.tsv" "$2" "$5" "$6"
    check_split "$s_dir/valid.tsv" "$3" "$5" "$6"
    check_split "$s_dir/test.tsv" "$4" "$5" "$6"
    grep -q "wrote $s_dir/train.tsv  $2 rows" "$s_dir.log" || fail "$s_dir.log: no train line"
    grep -q "wrote $s_dir/test.tsv  $4 rows" "$s_dir.log" || fail "$s_dir.log: no test line"
    s_dup=$(cut -f1 "$s_dir/train.tsv" "$s_dir/valid.tsv" "$s_dir/test.tsv" | sort | uniq -d |
        head -3 | tr '\n' ' ')
    [ -z "$s_dup" ] || fail "$s_dir: sources in more than one row: $s_dup"
}

# check_seeds NAME ARGS...: seed 7 twice gives the same bytes, seed 8 others;
# leaves the seed-7 files in $WORK/a.
check_seeds() {
    d_name=$1
    shift
    gen "$d_name" "$WORK/a" --seed 7 "$@"
    gen "$d_name" "$WORK/b" --seed 7 "$@"
    gen "$d_name" "$WORK/c" --seed 8 "$@"
    for s in train valid test; do
        cmp -s "$WORK/a/$s.tsv" "$WORK/b/$s.tsv" || fail "$d_name: seed 7 twice, different $s.tsv"
        cmp -s "$WORK/a/$s.tsv" "$WORK/c/$s.tsv" && fail "$d_name: seeds 7 and 8, same $s.tsv"
    done
}

all_rows() {
    cat "$1/train.tsv" "$1/valid.tsv" "$1/test.tsv"
}

# explains TEXT TARGET: heed data dates --explain TEXT prints TARGET.
explains() {
    x_got=$("$HEED" data dates --explain "$1" 2>&1)
    [ "$x_got" = "$2" ] || fail "--explain '$1': '$x_got', not '$2'"
}

# count_sources DIR ERE: how many sources match ERE.
count_sources() {
    all_rows "$1" | awk -F'\t' -v re="$2" '$1 ~ re { n++ } END { print n + 0 }'
}

test_cli() {
    exits_with 0 data --list
    for n in dates addition g2p langid; do
        grep -q "^  $n " "$WORK/out" || fail "--list does not list $n"
    done
    exits_with 0 data --help
    # --list with a dataset and --out is a mistake, not a run that overwrites DIR
    exits_with 2 data dates --out "$WORK/listed" --train 5 --list
    [ ! -e "$WORK/listed" ] || fail "--list with --out wrote a dataset"
    exits_with 2 data date --out "$WORK/x"
    grep -q "unknown dataset 'date'; did you mean 'dates'" "$WORK/err" || fail "no did-you-mean"
    exits_with 2 data nosuch --out "$WORK/x"
    exits_with 2 data addition --out "$WORK/x" --trian 5
    grep -q "did you mean '--train'" "$WORK/err" || fail "no did-you-mean for --trian"
    exits_with 2 data addition --out "$WORK/x" --train many
    exits_with 2 data addition --out "$WORK/x" --train -1
    exits_with 2 data addition
    exits_with 2 data
    exits_with 2 data addition --explain 1+1
    : >"$WORK/file"
    exits_with 1 data addition --out "$WORK/file/sub" --train 5 --valid 1 --test 1
    grep -q "$WORK/file" "$WORK/err" || fail "the write error does not name the path"
    [ ! -e "$WORK/x" ] || fail "a failed command wrote $WORK/x"
}

# check_sampled NAME: a generator of distinct random examples (dates,
# addition): small sizes in $WORK/a, its defaults in $WORK/d.
check_sampled() {
    check_seeds "$1" --train 2400 --valid 300 --test 300
    check_splits "$WORK/a" 2400 300 300 2 2
    gen "$1" "$WORK/d"
    check_splits "$WORK/d" 45000 2500 2500 2 2
}

test_dates() {
    check_sampled dates
    bad=$(all_rows "$WORK/a" | awk -F'\t' '
        length($1) > 29 || $2 !~ /^[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]$/ { print; exit }
        { y = substr($2, 1, 4) + 0 }
        $1 ~ /^[0-9]+[\/.][0-9]+[\/.][0-9][0-9]$/ && (y < 1969 || y > 2068) { print; exit }
        y < 1900 || y > 2099 { print; exit }')
    [ -z "$bad" ] || fail "dates: bad row (length, format or year range): $bad"

    # the forms people write, each present in 3000 rows
    for re in '^[0-9]/[0-9]+/[0-9][0-9]$' '^[0-9]+/[0-9]+/[0-9][0-9][0-9][0-9]$' \
        '^0[0-9]/[0-3][0-9]/' '^[0-9]+[.][0-9]+[.][0-9][0-9]$' \
        '^[0-3][0-9][.][01][0-9][.][0-9][0-9][0-9][0-9]$' \
        '^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]+, [0-9][0-9][0-9][0-9]$' \
        '^[a-z][a-z][a-z] [a-z][a-z][a-z] [0-9]+ [0-9][0-9][0-9][0-9]$' \
        '^[0-9]+ [A-Z][a-z]+ [0-9][0-9][0-9][0-9]$' '^[0-9]+ [a-z][a-z][a-z] [0-9]+$' \
        '^[A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] [0-9]+$' '^[A-Z]+ [0-9]+, [0-9]+$' \
        '[Ss]ept ' '^[a-z]+ [0-9]+, [0-9]+$'; do
        [ "$(count_sources "$WORK/a" "$re")" -gt 0 ] || fail "dates: no source matches $re"
    done

    # exact conversions, through the generator's own --explain
    explains "27 September 1994" 1994-09-27
    explains "9/27/94" 1994-09-27
    explains "1/2/05" 2005-01-02
    explains "3/4/69" 1969-03-04
    explains "3/4/68" 2068-03-04
    explains "09/07/1994" 1994-09-07
    explains "27.09.1994" 1994-09-27
    explains "27.9.94" 1994-09-27
    explains "27 sep 1994" 1994-09-27
    explains "September 27, 1994" 1994-09-27
    explains "Sep 27 1994" 1994-09-27
    explains "Tuesday, September 27, 1994" 1994-09-27
    explains "tue sep 27 1994" 1994-09-27
    explains "TUE, 27 SEPT 1994" 1994-09-27
    explains "Thursday, December 31, 2099" 2099-12-31
    explains "Wednesday, September 27, 1995" 1995-09-27  # 29 characters, the longest
    explains "1/1/1900" 1900-01-01
    exits_with 1 data dates --explain "wed sep 27 1994"  # wrong weekday
    exits_with 1 data dates --explain "2/29/1900"        # no such day
    exits_with 1 data dates --explain "3/4/1899"         # outside 1900..2099
    # --explain agrees with the rows
    head -25 "$WORK/a/test.tsv" >"$WORK/some"
    while IFS="$(printf '\t')" read -r src tgt; do
        explains "$src" "$tgt"
    done <"$WORK/some"

    # every row against GNU date, an independent parser (it reads 27.09.94
    # only as 09/27/94, and ignores a weekday, so weekdays are checked apart)
    if date --version 2>/dev/null | grep -q GNU; then
        all_rows "$WORK/d" | cut -f1 | sed -E 's#^([0-9]+)[.]([0-9]+)[.]([0-9]+)$#\2/\1/\3#' |
            date -f - +%F >"$WORK/gnu" || fail "GNU date rejects a source"
        all_rows "$WORK/d" | cut -f2 | cmp -s - "$WORK/gnu" || fail "dates: GNU date disagrees"
        all_rows "$WORK/d" | cut -f2 | date -f - +%a | tr '[:upper:]' '[:lower:]' >"$WORK/wd"
        bad=$(all_rows "$WORK/d" | cut -f1 | paste - "$WORK/wd" | awk -F'\t' '
            { split(tolower($1), w, /[ ,]+/) }
            w[1] ~ /^(sun|mon|tue|wed|thu|fri|sat)/ && substr(w[1], 1, 3) != $2 { print; exit }')
        [ -z "$bad" ] || fail "dates: wrong weekday: $bad"
    fi
}

test_addition() {
    check_sampled addition
    bad=$(all_rows "$WORK/d" | awk -F'\t' '
        $1 !~ /^(0|[1-9][0-9]?[0-9]?)[+](0|[1-9][0-9]?[0-9]?)$/ || $2 !~ /^(0|[1-9][0-9]*)$/ {
            print; exit }
        { split($1, op, "+"); if (op[1] + op[2] != $2) { print; exit } }')
    [ -z "$bad" ] || fail "addition: wrong row: $bad"
}

G2P_DICT=/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict

test_g2p() {
    [ -r "$G2P_DICT" ] || {
        echo "skipped: no $G2P_DICT (pocketsphinx-en-us)"
        exit 77
    }
    check_seeds g2p --train 3000 --valid 300 --test 300
    check_splits "$WORK/a" 3000 300 300 2 99
    gen g2p "$WORK/d"
    # by default every word of two or more letters a-z: 5% valid, 5% test
    words=$(awk '{ w = $1; sub(/[(][0-9]+[)]$/, "", w) } w ~ /^[a-z][a-z]+$/ { print w }' \
        "$G2P_DICT" | sort -u | wc -l)
    held=$(((words + 10) / 20))
    check_splits "$WORK/d" $((words - 2 * held)) $held $held 2 99
    grep -q "^read	R EH D	R IY D$" "$WORK/d/train.tsv" "$WORK/d/valid.tsv" "$WORK/d/test.tsv" ||
        fail "g2p: no row 'read R EH D R IY D'"
    # every row is the dictionary's: the word's pronunciations in variant order
    bad=$(all_rows "$WORK/d" | awk -F'\t' -v dict="$G2P_DICT" '
        BEGIN {
            while ((getline line < dict) > 0) {
                n = split(line, f, " "); w = f[1]; v = 1
                if (match(w, /[(][0-9]+[)]$/)) {
                    v = substr(w, RSTART + 1) + 0
                    w = substr(w, 1, RSTART - 1)
                }
                p = f[2]; for (i = 3; i <= n; i++) p = p " " f[i]
                pron[w, v] = p; if (v > top[w]) top[w] = v
            }
        }
        $1 !~ /^[a-z][a-z]+$/ { print "word " $0; exit }
        {
            k = 1; want = $1
            for (v = 1; v <= top[$1]; v++) {
                if (!(($1, v) in pron)) continue
                dup = 0; for (j = 2; j <= k; j++) if (seen[j] == pron[$1, v]) dup = 1
                if (!dup) { seen[++k] = pron[$1, v]; want = want "\t" pron[$1, v] }
            }
            if (want != $0) { print "row " $0; exit }
            for (i = 2; i <= NF; i++) if ($i !~ /^[A-Z]+( [A-Z]+)*$/) { print "phones " $0; exit }
        }')
    [ -z "$bad" ] || fail "g2p: $bad"
    exits_with 1 data g2p --out "$WORK/x" --train 200000
    exits_with 1 data g2p --out "$WORK/x" --source "$WORK/no-such.dict"
    grep -q "$WORK/no-such.dict: No such file" "$WORK/err" || fail "g2p: error without the path"
}

LISTS="en:american-english fr:french de:ngerman es:spanish it:italian pt:portuguese nl:dutch
sv:swedish"

# utf8_list FILE: the list as UTF-8 (Debian's swedish is ISO-8859-1).
utf8_list() {
    iconv -f UTF-8 -t UTF-8 "$1" 2>/dev/null || iconv -f ISO-8859-1 -t UTF-8 "$1"
}

test_langid() {
    for l in $LISTS; do
        [ -r "/usr/share/dict/${l#*:}" ] || { echo "skipped: no /usr/share/dict/${l#*:}"; exit 77; }
    done
    check_seeds langid --train 200 --valid 30 --test 30
    check_splits "$WORK/a" 1600 240 240 2 2
    for s in train valid test; do
        want=200
        [ $s = train ] || want=30
        got=$(cut -f2 "$WORK/a/$s.tsv" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
        [ "$got" = "de:$want en:$want es:$want fr:$want it:$want nl:$want pt:$want sv:$want " ] ||
            fail "langid: $s has $got"
    done
    all_rows "$WORK/a" | iconv -f UTF-8 -t UTF-8 >/dev/null || fail "langid: output is not UTF-8"
    # Debian's swedish list is ISO-8859-1: its words with å, ä, ö must come through
    sv=$(all_rows "$WORK/a" | awk -F'\t' '$2 == "sv" { print $1 }' | grep -c -e å -e ä -e ö)
    [ "$sv" -gt 0 ] || fail "langid: no Swedish word with å, ä or ö"
    bad=$(all_rows "$WORK/a" | awk -F'\t' '$1 ~ /[0-9.,\/_-]|'"'"'|^.$/ { print; exit }')
    [ -z "$bad" ] || fail "langid: word that is not all letters: $bad"
    # each word is in its own list and in no other: which lists hold the
    # words, as "code<TAB>word" lines (the words are ASCII or UTF-8, so fixed
    # strings matching whole lines are exact)
    all_rows "$WORK/a" | cut -f1 >"$WORK/words"
    for l in $LISTS; do
        utf8_list "/usr/share/dict/${l#*:}" | grep -Fx -f "$WORK/words" | sort -u |
            sed "s/^/${l%%:*}	/"
    done >"$WORK/found"
    bad=$(all_rows "$WORK/a" | awk -F'\t' -v found="$WORK/found" '
        BEGIN {
            while ((getline line < found) > 0) {
                split(line, f, "\t")
                in_list[f[2]] = in_list[f[2]] " " f[1]
            }
        }
        in_list[$1] != " " $2 { print $1 " (" $2 ") is in:" in_list[$1]; exit }')
    [ -z "$bad" ] || fail "langid: $bad"
    exits_with 1 data langid --out "$WORK/x" --train 100000
    grep -q "usable words" "$WORK/err" || fail "langid: unclear error for a list too small"
}

case $PART in
cli) test_cli ;;
dates) test_dates ;;
addition) test_addition ;;
g2p) test_g2p ;;
langid) test_langid ;;
*)
    echo "unknown part $PART" >&2
    exit 1
    ;;
esac
[ "$fails" -eq 0 ] || { echo "$fails checks failed" >&2; exit 1; }
echo "ok: heed data, $PART"
