#!/bin/sh
# test_badinput.sh HEED WORKDIR - hostile input through the heed command: an
# alias bomb, an empty file, binary junk and invalid UTF-8 as the model; truncated
# and junk weights; malformed data. Each must end the command with exit status
# 1 (an error in the input: not 2, a usage error, and not a crash or a signal)
# and an "error:" line that names the offending file.
set -eu
heed=$1
work=$2
model=$(cd "$(dirname "$0")/.." && pwd)/graphs/bahdanau_seq2seq.yaml
rm -rf "$work"
mkdir -p "$work"
cd "$work"

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_input_error FILE COMMAND...: runs the command, which must exit 1 and
# print an error: line mentioning FILE.
expect_input_error() {
    file=$1
    shift
    rc=0
    "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -ne 1 ]; then
        fail "exit status $rc, not 1: $*"
        sed 's/^/    /' err.txt >&2
        return
    fi
    grep "error:" err.txt | grep -qF "$file" ||
        { fail "no error: line naming $file: $*"; sed 's/^/    /' err.txt >&2; }
}

# ------------------------------------------------------------ model files

# billion laughs: 10^9 nodes if the aliases were expanded
{
    printf 'heed: 1\ninputs: {x: [B, 4]}\nnodes: {a: {op: Tanh, in: x}}\n'
    printf 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n'
    i=1
    while [ $i -lt 9 ]; do
        p=$((i - 1))
        printf 'l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n' \
            $i $i $p $p $p $p $p $p $p $p $p $p
        i=$((i + 1))
    done
} >bomb.yaml
expect_input_error bomb.yaml "$heed" check bomb.yaml
grep -q "alias expansion limit" err.txt || fail "the alias bomb is not named as such"

: >empty.yaml
expect_input_error empty.yaml "$heed" check empty.yaml

# an ELF-like header with NULs and an escape sequence, then random bytes
{
    printf '\177ELF\002\001\001\000\000\000\033[2J\n'
    head -c 2048 /dev/urandom
} >junk.yaml
expect_input_error junk.yaml "$heed" check junk.yaml
# the escape sequence must not reach the terminal
if tr -d '\n\t' <err.txt | LC_ALL=C grep -q '[[:cntrl:]]'; then
    fail "a control character from junk.yaml was printed"
fi

printf 'heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  \377\376: {op: Tanh, in: x}\n' >utf8.yaml
expect_input_error utf8.yaml "$heed" check utf8.yaml
grep -q "utf8.yaml:4:3: error: YAML: invalid leading UTF-8 octet" err.txt ||
    fail "invalid UTF-8 is not located at line 4, column 3"

# the same hostile models where eval and infer load them
"$heed" data dates --out data --train 48 --valid 8 --test 8 --seed 3 >/dev/null
for bad in bomb.yaml empty.yaml junk.yaml; do
    expect_input_error "$bad" "$heed" eval "$bad" --weights none.safetensors \
        --data data/test.tsv
    expect_input_error "$bad" "$heed" infer "$bad" --weights none.safetensors 2024-01-01
done

# ------------------------------------------------------------ weights files

"$heed" train "$model" --data data/train.tsv --epochs 1 --batch 16 --threads 1 \
    --dim E=4 --dim H=4 --seed 5 --quiet --out good.safetensors >/dev/null 2>&1 ||
    fail "training the weights to damage failed"
"$heed" eval "$model" --weights good.safetensors --data data/test.tsv >/dev/null ||
    fail "the undamaged weights do not load"

size=$(wc -c <good.safetensors)
head -c $((size - 100)) good.safetensors >truncated.safetensors
head -c 4 good.safetensors >stub.safetensors
head -c 4096 /dev/urandom >junk.safetensors
for bad in truncated.safetensors stub.safetensors junk.safetensors; do
    expect_input_error "$bad" "$heed" eval "$model" --weights "$bad" --data data/test.tsv
    expect_input_error "$bad" "$heed" infer "$model" --weights "$bad" 2024-01-01
    # (a resumed run takes its dims from the checkpoint: no --dim)
    expect_input_error "$bad" "$heed" train "$model" --data data/train.tsv --epochs 1 \
        --resume "$bad"
done
expect_input_error truncated.safetensors "$heed" eval "$model" \
    --weights truncated.safetensors --data data/test.tsv
grep -q "truncated file or a header that lies" err.txt || fail "truncation is not named as such"

# ------------------------------------------------------------ data files

printf 'March 3, 2001\t2001-03-03\nMarch 4, 2001\n' >columns.tsv
expect_input_error "columns.tsv:2:1" "$heed" train "$model" --data columns.tsv --epochs 1 \
    --dim E=4 --dim H=4 --out never.safetensors
printf 'March 3, 2001\t2001-03-03\nMarch \377, 2001\t2001-03-04\n' >utf8.tsv
expect_input_error "utf8.tsv:2:1" "$heed" train "$model" --data utf8.tsv --epochs 1 \
    --dim E=4 --dim H=4 --out never.safetensors
: >empty.tsv
expect_input_error empty.tsv "$heed" train "$model" --data empty.tsv --epochs 1 \
    --dim E=4 --dim H=4 --out never.safetensors
expect_input_error empty.tsv "$heed" eval "$model" --weights good.safetensors --data empty.tsv
[ -e never.safetensors ] && fail "bad data still wrote weights"

if [ "$failures" -gt 0 ]; then
    echo "$failures failures" >&2
    exit 1
fi
echo "ok: every bad input exits 1 with an error naming its file"
