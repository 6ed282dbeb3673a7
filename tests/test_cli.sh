#!/bin/sh
# test_cli.sh HEED SOURCE_DIR WORKDIR - the heed command as a user meets it:
#   - docs/CLI.md holds every command's --help text verbatim
#     (HEED_UPDATE_DOCS=1 rewrites the blocks from the binary instead);
#   - exit codes: 0 success, 1 bad input, 2 usage errors, with did-you-mean;
#   - heed run computes known values, writes the same bytes twice and reads its
#     own output back as input;
#   - check, inspect (text, JSON, dot) and gradcheck on a shipped graph;
#   - bench's per-node profile, of the training step or the forward pass.
set -eu
heed=$1
src=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE DESCRIPTION COMMAND...: runs the command, checks its exit code;
# its stderr is left in err.txt, stdout in out.txt
expect() {
    want=$1
    what=$2
    shift 2
    set +e
    "$@" >out.txt 2>err.txt
    got=$?
    set -e
    [ "$got" -eq "$want" ] || fail "$what: exit $got, expected $want ($(head -c 300 err.txt))"
}

# contains FILE TEXT DESCRIPTION
contains() {
    grep -qF -- "$2" "$1" || fail "$3: '$2' not in $(head -c 400 "$1")"
}

# ------------------------------------------------------------ docs/CLI.md
doc=$src/docs/CLI.md
commands=$("$heed" --help | awk '/^  [a-z]/ { print $1 }')
[ -n "$commands" ] || fail "heed --help lists no commands"
if [ "${HEED_UPDATE_DOCS:-}" = 1 ]; then
    for c in $commands; do
        "$heed" "$c" --help >"help_$c.txt"
    done
    awk -v dir="$work" '
        /^<!-- help:[a-z]+ -->$/ {
            print
            name = substr($0, 11, length($0) - 14)
            print "```text"
            while ((getline line < (dir "/help_" name ".txt")) > 0) print line
            print "```"
            skip = 1
            next
        }
        /^<!-- \/help -->$/ { skip = 0 }
        !skip { print }' "$doc" >CLI.md.new
    cp CLI.md.new "$doc"
    echo "rewrote the help blocks of $doc"
fi
for c in $commands; do
    "$heed" "$c" --help >want.txt
    awk -v tag="<!-- help:$c -->" '
        $0 == tag { inside = 1; next }
        inside && /^<!-- \/help -->$/ { exit }
        inside && !/^```/ { print }' "$doc" >have.txt
    cmp -s want.txt have.txt ||
        fail "docs/CLI.md's block for '$c' differs from 'heed $c --help' (HEED_UPDATE_DOCS=1 rewrites it):
$(diff have.txt want.txt | head -20)"
done

# ------------------------------------------------------------ exit codes
expect 2 "no command" "$heed"
expect 0 "--help" "$heed" --help
expect 0 "--version" "$heed" --version
contains out.txt "heed " "--version"
expect 2 "unknown command" "$heed" chek
contains err.txt "did you mean 'check'?" "unknown command"
expect 2 "unknown option" "$heed" check "$src/graphs/bahdanau_seq2seq.yaml" --dimm E=3
contains err.txt "did you mean '--dim'?" "unknown option"
# the last option of the longest list is suggested too (the lists are counted, not hand-numbered)
expect 2 "misspelt last train option" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --keep-epoch
contains err.txt "did you mean '--keep-epochs'?" "misspelt last train option"
expect 2 "bad --dim" "$heed" check "$src/graphs/bahdanau_seq2seq.yaml" --dim E
# a dim the model has not is a usage error, its did-you-mean by case first
expect 2 "unknown --dim" "$heed" inspect "$src/graphs/char_classifier.yaml" --dim h=3
contains err.txt "--dim h: model 'char_classifier' has no dim 'h'; did you mean 'H'?" "unknown --dim"
printf 'heed: 1\ninputs: {x: [B, 1]}\nnodes:\n  a: {op: Affine, in: x, units: 1, bias: false}\n' >one-node.yaml
expect 0 "check of one node" "$heed" check one-node.yaml
contains out.txt "ok: model 'model', 1 node, 1 parameter" "check of one node"
# a vocabulary's size comes from its tokens: weights made at another would
# not load with that vocabulary again
expect 2 "train --dim of a vocabulary" "$heed" train "$src/graphs/char_classifier.yaml" --data none.tsv --dim V=100
contains err.txt "--dim V: V is a vocabulary's size" "train --dim of a vocabulary"
# two outputs that do not exist yet, spelled apart, are still one file
expect 2 "train --out ./X --log X" "$heed" train "$src/graphs/char_classifier.yaml" --data none.tsv \
    --out ./same-new.safetensors --log same-new.safetensors
contains err.txt "--log same-new.safetensors would overwrite ./same-new.safetensors" "train --out ./X --log X"
# values are whole numbers: not empty, not padded; a flag takes no value
expect 2 "--dim with a space" "$heed" check "$src/graphs/bahdanau_seq2seq.yaml" --dim "E= 3"
expect 2 "empty --seed" "$heed" gradcheck "$src/graphs/char_classifier.yaml" --seed=
contains err.txt "--seed takes an integer from 1 to 4294967295, not ''" "empty --seed"
expect 2 "flag with a value" "$heed" inspect "$src/graphs/char_classifier.yaml" --json=no
contains err.txt "option --json takes no value, not 'no'" "flag with a value"
expect 2 "misspelt top-level option" "$heed" --verison
contains err.txt "unknown option '--verison'; did you mean '--version'?" "misspelt top-level option"
expect 0 "help COMMAND" "$heed" help check
contains out.txt "usage: heed check MODEL.yaml" "help COMMAND"
expect 2 "help of a misspelt command" "$heed" help chek
contains err.txt "unknown command 'chek'; did you mean 'check'?" "help of a misspelt command"
for h in --help -h help; do expect 0 "help $h" "$heed" help "$h"; done
# BATCH:STEPS as digits: no spaces, no overflow into a small number
for d in " 2: 3" "4294967298:3" "2:3x"; do
    expect 2 "bench --decode '$d'" "$heed" bench "$src/graphs/bahdanau_seq2seq.yaml" --decode "$d"
done
expect 2 "bench --decode of a classifier" "$heed" bench "$src/graphs/char_classifier.yaml" --decode 2:3
# after '--' every word is a text, --help included
expect 1 "--help after --" "$heed" infer "$src/graphs/char_classifier.yaml" --weights none.safetensors -- --help
expect 2 "missing value" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data
expect 2 "missing --data" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml"
expect 1 "missing model file" "$heed" check no_such_model.yaml
contains err.txt "no_such_model.yaml" "missing model file"
expect 0 "a shipped graph checks" "$heed" check "$src/graphs/luong_dot_seq2seq.yaml"
contains out.txt "ok: model 'luong_dot_seq2seq'" "check"

cat >bad.yaml <<'EOF'
heed: 1
inputs: {x: [B, 4]}
nodes:
  h: {op: Afine, in: x, units: 3}
  y: {op: Tanh, in: hh}
EOF
expect 1 "model errors" "$heed" check bad.yaml
contains err.txt "bad.yaml:4:11: error:" "unknown op position"
contains err.txt "did you mean 'Affine'?" "unknown op"
contains err.txt "bad.yaml:5:21: error:" "undefined input position"
contains err.txt "2 errors" "error count"

# ------------------------------------------------------------ heed run
cat >calc.yaml <<'EOF'
heed: 1
inputs: {x: [B, 4]}
nodes:
  t: {op: Tanh, in: x}
  p: {op: Softmax, in: x}
outputs: [t, p]
EOF
# x = [[0, 1, 2, -1]] as F32 little-endian, in a safetensors file (the header
# padded with spaces to keep the data aligned, as safetensors writers do)
header='{"x":{"dtype":"F32","shape":[1,4],"data_offsets":[0,16]}}'
while [ $(($(printf '%s' "$header" | wc -c) % 8)) -ne 0 ]; do header="$header "; done
len=$(printf '%s' "$header" | wc -c)
{
    printf "\\$(printf '%03o' "$len")\\000\\000\\000\\000\\000\\000\\000"
    printf '%s' "$header"
    printf '\000\000\000\000\000\000\200\077\000\000\000\100\000\000\200\277'
} >in.safetensors
expect 0 "heed run" "$heed" run calc.yaml --inputs in.safetensors --out out1.safetensors
expect 0 "heed run again" "$heed" run calc.yaml --inputs in.safetensors --out out2.safetensors
# a weights file's text reaches the terminal without its control characters
# (here a hash that would set the terminal's title, in a warning)
cat >aff.yaml <<'EOF'
heed: 1
inputs: {x: [B, 4]}
nodes:
  a: {op: Affine, in: x, units: 1}
EOF
header='{"__metadata__":{"heed.hash":"\u001b]0;owned\u0007"},"a.weight":{"dtype":"F32","shape":[1,4],"data_offsets":[0,16]},"a.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}'
while [ $(($(printf '%s' "$header" | wc -c) % 8)) -ne 0 ]; do header="$header "; done
{
    printf "\\$(printf '%03o' "$(printf '%s' "$header" | wc -c)")\\000\\000\\000\\000\\000\\000\\000"
    printf '%s' "$header"
    head -c 20 /dev/zero
} >hostile.safetensors
expect 0 "weights with a hostile hash" "$heed" run aff.yaml --weights hostile.safetensors --inputs in.safetensors --out aff-out.safetensors
contains err.txt "(hash ?]0;owned?," "weights with a hostile hash"
if grep -q "$(printf '\033')" err.txt; then fail "a control character of a weights file reached stderr"; fi
# a FIFO no one writes to is refused, not waited on for ever
mkfifo fifo.safetensors
expect 1 "heed run --inputs FIFO" timeout 20 "$heed" run calc.yaml --inputs fifo.safetensors --out o.safetensors
contains err.txt "fifo.safetensors: error: not a regular file" "heed run --inputs FIFO"
# a model or data FIFO reads as empty; a pipe with a writer reads as ever
mkfifo fifo.yaml fifo.tsv
expect 1 "heed check FIFO" timeout 20 "$heed" check fifo.yaml
contains err.txt "fifo.yaml: error: the model file is empty" "heed check FIFO"
expect 1 "heed train --data FIFO" timeout 20 "$heed" train "$src/graphs/char_classifier.yaml" --data fifo.tsv --quiet
contains err.txt "fifo.tsv is not a regular file: a data file is read more than once" "heed train --data FIFO"
: >empty.tsv
expect 1 "heed train on an empty file" "$heed" train "$src/graphs/char_classifier.yaml" --data empty.tsv --quiet
contains err.txt "empty.tsv has no rows with text" "heed train on an empty file"
expect 0 "heed check from a pipe" sh -c "cat calc.yaml | '$heed' check /dev/stdin"
# past 20 errors checking stops and says so last, with no count of the
# errors shown after it ("20 errors" contradicted "more than 20 errors")
{
    printf 'heed: 1\ninputs: {x: [B, 4]}\nnodes:\n'
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22; do
        printf '  n%s: {op: Tanhh, in: x}\n' "$i"
    done
} >many-errors.yaml
expect 1 "check of 22 mistakes" "$heed" check many-errors.yaml
[ "$(tail -n 1 err.txt)" = "error: more than 20 errors; the rest of the file was not checked" ] ||
    fail "check of 22 mistakes ends with: $(tail -n 1 err.txt)"
cp calc.yaml calc-kept.yaml
expect 2 "run --out over the model" "$heed" run calc-kept.yaml --inputs in.safetensors --out calc-kept.yaml
contains err.txt "would overwrite calc-kept.yaml" "run --out over the model"
cmp -s calc.yaml calc-kept.yaml || fail "run --out replaced the model file"
expect 2 "run --out over the weights" "$heed" run calc.yaml --weights out1.safetensors --inputs in.safetensors --out out1.safetensors
cp in.safetensors in-kept.safetensors
expect 2 "run --out over --inputs" "$heed" run calc.yaml --inputs in-kept.safetensors --out ./in-kept.safetensors
cmp -s in.safetensors in-kept.safetensors || fail "run --out replaced its --inputs"
cmp -s out1.safetensors out2.safetensors || fail "heed run wrote different bytes for the same input"

# values of tensor NAME in a safetensors file, one per line
values() {
    hlen=$(od -A n -t u4 -N 4 "$2" | tr -d ' ')
    offs=$(dd if="$2" bs=1 skip=8 count="$hlen" 2>/dev/null |
        grep -o "\"$1\":{[^}]*}" | grep -o 'data_offsets":\[[0-9]*,[0-9]*' | grep -o '[0-9,]*$')
    begin=${offs%,*}
    end=${offs#*,}
    od -A n -t f4 -v -j $((8 + hlen + begin)) -N $((end - begin)) "$2" | tr -s ' ' '\n' | sed '/^$/d'
}
# tanh and softmax of [0, 1, 2, -1]
printf '0\n0.7615942\n0.9640276\n-0.7615942\n' >want_t.txt
printf '0.08714432\n0.2368828\n0.6439142\n0.03205860\n' >want_p.txt
for v in t p; do
    values "$v" out1.safetensors >"got_$v.txt"
    paste "got_$v.txt" "want_$v.txt" | awk -v name="$v" '
        { d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 || NF != 2) { bad = 1; print name ": " $0 } }
        END { exit bad || NR != 4 }' || fail "heed run: wrong values of '$v'"
done
# its output holds x too, so it is a valid input file
expect 0 "heed run on its own output" "$heed" run calc.yaml --inputs out1.safetensors --out out3.safetensors
values t out3.safetensors >got_t3.txt
cmp -s got_t.txt got_t3.txt || fail "heed run on its own output gave different values"
# an input of the wrong shape names the input and both shapes
sed 's/"shape":\[1,4\]/"shape":\[4,1\]/' in.safetensors >wrong.safetensors
expect 1 "input of the wrong shape" "$heed" run calc.yaml --inputs wrong.safetensors --out o.safetensors
contains err.txt "x" "wrong shape"
contains err.txt "note: the inputs come from wrong.safetensors" "wrong shape"
# an input the file lacks: the message says where the inputs came from
printf 'heed: 1\ninputs: {x: [B, 4], y: [B, 4]}\nnodes:\n  s: {op: Add, in: [x, y]}\n' >two.yaml
expect 1 "input missing from the file" "$heed" run two.yaml --inputs in.safetensors --out o.safetensors
contains err.txt "input 'y' was not set" "input missing from the file"
contains err.txt "note: the inputs come from in.safetensors" "input missing from the file"

# ------------------------------------------------------------ heed eval
# A tiny model learns to spell three letters out with spaces ("abc" -> "a b c")
# perfectly; scored against references with known mistakes, the metrics have
# known values: exact match over any reference, the token error rate in the
# model's tokens (characters) and the symbol error rate in space-separated
# symbols (PER for phonemes).
for a in a b c; do for b in a b c; do for c in a b c; do
    printf '%s%s%s\t%s %s %s\n' "$a" "$b" "$c" "$a" "$b" "$c"
done; done; done >spell1.tsv
for i in 1 2 3 4 5 6 7 8; do cat spell1.tsv; done >spell.tsv
expect 0 "train the speller" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data spell.tsv \
    --epochs 12 --batch 16 --lr 0.01 --dim E=8 --dim H=32 --threads 1 --out spell.safetensors --quiet \
    --keep-epochs
printf 'abc\ta b c\nbca\tb x a\ncab\tc x b\tc a b\n' >scored.tsv
expect 0 "heed eval" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" --weights spell.safetensors \
    --data scored.tsv --json
for want in '"exact_match":66.6667' '"wer":33.3333' '"token_error_rate":6.6667' \
    '"symbol_error_rate":11.1111'; do
    contains out.txt "$want" "heed eval metrics"
done
# a field filling an input of fixed length is padded to it, whatever its
# batch holds (with batch 1 a short row was fed at its own length and
# refused against L = 4); a longer row or text is refused, named
cat >fixed.yaml <<'EOF'
heed: 1
dims: {L: 4}
inputs: {x: [B, L], c: [B]}
data:
  x: {column: 0, tokens: chars, vocab: V}
  c: {column: 1, tokens: label, vocab: C}
nodes:
  e: {op: Embedding, in: x, vocab: V, dim: 8}
  p: {op: MeanPool, in: e}
  logits: {op: Affine, in: p, units: C}
loss: {op: CrossEntropy, logits: logits, target: c}
train: {lr: 0.05, batch: 1, epochs: 2}
EOF
printf 'abcd\tx\nab\ty\n' >fixed.tsv
expect 0 "train at a fixed length" "$heed" train fixed.yaml --data fixed.tsv --threads 1 \
    --out fixed.safetensors --quiet
expect 0 "infer at a fixed length" "$heed" infer fixed.yaml --weights fixed.safetensors ab
expect 1 "infer past a fixed length" "$heed" infer fixed.yaml --weights fixed.safetensors ab abcde
contains err.txt "the 2nd text has 5 tokens for field 'x', but input 'x' fixes L = 4" \
    "infer past a fixed length"
printf 'abcd\tx\nabcdef\ty\n' >fixed-long.tsv
expect 1 "train past a fixed length" "$heed" train fixed.yaml --data fixed-long.tsv --threads 1 \
    --out fixed.safetensors --quiet
contains err.txt "fixed-long.tsv:2:1: error: field 'x' has 6 tokens, but input 'x' fixes L = 4" \
    "train past a fixed length"
# said before the first step, every such row of both files: a long row
# late in the data does not stop the run part-way
printf 'abcd\tx\nab\ty\nabcdef\ty\nabcdefg\tx\n' >fixed-late.tsv
expect 1 "train past a fixed length, late rows" "$heed" train fixed.yaml --data fixed-late.tsv \
    --valid fixed-long.tsv --threads 1 --out fixed-late.safetensors --log fixed-late.csv
contains err.txt "fixed-late.tsv:3:1: error: field 'x' has 6 tokens" "train past L, row 3"
contains err.txt "fixed-late.tsv:4:1: error: field 'x' has 7 tokens" "train past L, row 4"
[ ! -e fixed-late.safetensors ] && [ ! -e fixed-late.csv ] && ! grep -q '^training' out.txt ||
    fail "a run refused for a row past a fixed length trained or wrote files"
printf 'abcd\tx\nab\ty\n' >fixed-ok.tsv
expect 1 "validate past a fixed length" "$heed" train fixed.yaml --data fixed-ok.tsv \
    --valid fixed-long.tsv --threads 1 --out fixed-late.safetensors
contains err.txt "fixed-long.tsv:2:1: error: field 'x' has 6 tokens" "validate past a fixed length"
[ ! -e fixed-late.safetensors ] || fail "a run refused for its validation data wrote weights"
expect 1 "eval past a fixed length" "$heed" eval fixed.yaml --weights fixed.safetensors \
    --data fixed-late.tsv
contains err.txt "fixed-late.tsv:4:1: error: field 'x' has 7 tokens" "eval past a fixed length"
expect 0 "eval up to a fixed length" "$heed" eval fixed.yaml --weights fixed.safetensors \
    --data fixed-late.tsv --limit 2
contains out.txt "2 rows" "eval up to a fixed length"
# nor can a fed-back input of fixed length (T in dims:): it trains (its rows
# padded to T), so decoding says why it cannot run, not that T is 1
sed 's/^dims: {E: 16, H: 256, L: 1}/dims: {E: 8, H: 16, L: 1, T: 24}/' \
    "$src/graphs/bahdanau_seq2seq.yaml" >fixed-t.yaml
expect 0 "train a decoder of fixed length" "$heed" train fixed-t.yaml --data spell1.tsv \
    --epochs 1 --threads 1 --out fixed-t.safetensors --quiet
expect 1 "infer a decoder of fixed length" "$heed" infer fixed-t.yaml --weights \
    fixed-t.safetensors abc
contains err.txt "cannot decode: its fed-back input 'tgt' has the fixed length T (in dims:)" \
    "infer a decoder of fixed length"
# a UTF-8 byte-order mark before the first row is not data, for eval's own
# reading of the rows as for the library's (row 1 decoded with an <unk>)
printf '\357\273\277' | cat - scored.tsv >scored-bom.tsv
expect 0 "heed eval after a byte-order mark" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights spell.safetensors --data scored-bom.tsv --json
contains out.txt '"exact_match":66.6667' "heed eval after a byte-order mark"
# a further reference the model's tokens cannot read is named at its line,
# not scored as an empty reference
printf 'abc\ta b c\n\nbca\tb c a\tb \377\n' >bad-ref.tsv
expect 1 "heed eval of an unreadable reference" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights spell.safetensors --data bad-ref.tsv
contains err.txt "bad-ref.tsv:3: error: reference column 2 (counted from 0): the text is not valid" \
    "heed eval of an unreadable reference"

# a tagger (a label per token: a CrossEntropy loss without shift) neither
# decodes nor classifies: eval scores its tokens teacher-forced. It learns
# each character's case exactly, so its own rows score 100% and the same
# rows with every tag flipped 0%
cat >tagger.yaml <<'EOF'
heed: 1
inputs: {x: [B, S], y: [B, S]}
data:
  x: {column: 0, tokens: chars, vocab: V}
  y: {column: 1, tokens: chars, vocab: C}
nodes:
  e: {op: Embedding, in: x, vocab: V, dim: 8}
  logits: {op: Affine, in: e, units: C}
loss: {op: CrossEntropy, logits: logits, target: y}
train: {lr: 0.05, batch: 8, epochs: 30}
EOF
for w in ab aB Ab AB abc ABC aBc AbC cab CAB cAB Cab bca BCA bcA; do
    printf '%s\t%s\n' "$w" "$(printf '%s' "$w" | tr 'abcABC' 'llluuu')"
done >tags.tsv
awk -F'\t' -v OFS='\t' '{ t = $2; gsub(/l/, "X", t); gsub(/u/, "l", t); gsub(/X/, "u", t); print $1, t }' \
    tags.tsv >flipped.tsv
expect 0 "train a tagger" "$heed" train tagger.yaml --data tags.tsv --threads 1 --out tagger.safetensors --quiet
tokens=$(cut -f1 tags.tsv | tr -d '\n' | wc -c)
expect 0 "eval a tagger" "$heed" eval tagger.yaml --weights tagger.safetensors --data tags.tsv --json
contains out.txt "\"rows\":15,\"tokens\":$tokens,\"token_accuracy\":100.0000,\"row_accuracy\":100.0000" \
    "eval a tagger"
expect 0 "eval a tagger on flipped tags" "$heed" eval tagger.yaml --weights tagger.safetensors \
    --data flipped.tsv --json
contains out.txt "\"token_accuracy\":0.0000,\"row_accuracy\":0.0000" "eval a tagger on flipped tags"
expect 2 "eval --beam of a tagger" "$heed" eval tagger.yaml --weights tagger.safetensors --data tags.tsv --beam 2
contains err.txt "'model' does not decode" "eval --beam of a tagger"
# infer labels each character of texts it never saw whole (the tagger has no
# context, so each character's case is learnt exactly); an empty line has no
# labels; --beam is for seq2seq models
expect 0 "infer a tagger" "$heed" infer tagger.yaml --weights tagger.safetensors bAc CCab
[ "$(cat out.txt)" = "$(printf 'lul\nuull')" ] || fail "infer a tagger: $(cat out.txt)"
printf 'cBa\n\nA\n' | "$heed" infer tagger.yaml --weights tagger.safetensors >out.txt 2>err.txt ||
    fail "infer a tagger from stdin: $(cat err.txt)"
[ "$(cat out.txt)" = "$(printf 'lul\n\nu')" ] || fail "infer a tagger from stdin: $(cat out.txt)"
printf '\357\273\277aB\n' | "$heed" infer tagger.yaml --weights tagger.safetensors >out.txt 2>err.txt ||
    fail "infer a tagger after a byte-order mark: $(cat err.txt)"
[ "$(cat out.txt)" = "lu" ] || fail "infer a tagger after a byte-order mark: $(cat out.txt)"
expect 2 "infer --beam of a tagger" "$heed" infer tagger.yaml --weights tagger.safetensors --beam 2 ab
contains err.txt "'model' does not decode" "infer --beam of a tagger"
# the same model with shift: 1 feeds y back, but y shares x's length S: it
# cannot decode, and says why (each step bound S to 1 against x's length)
sed 's/target: y}/target: y, shift: 1}/' tagger.yaml >shifted.yaml
expect 0 "train a shifted tagger" "$heed" train shifted.yaml --data tags.tsv --threads 1 \
    --epochs 1 --out shifted.safetensors --quiet
expect 1 "infer a shifted tagger" "$heed" infer shifted.yaml --weights shifted.safetensors ab
contains err.txt "shifted.yaml:2:21: error: model 'model' cannot decode: its fed-back input 'y' \
shares its length S with input 'x'" "infer a shifted tagger"
# a tagger with a second source field labels the field of its labels' length:
# a case label given per row first (it was fed the label's width, refused,
# then read through a plan that was never made), and a context of characters
# first (its words got as many labels as the context had characters)
cat >cond.yaml <<'EOF'
heed: 1
inputs: {c: [B], x: [B, S], y: [B, S]}
data:
  c: {column: 0, tokens: label, vocab: K}
  x: {column: 1, tokens: chars, vocab: V}
  y: {column: 2, tokens: chars, vocab: C}
nodes:
  ce: {op: Embedding, in: c, vocab: K, dim: 16}
  xe: {op: Embedding, in: x, vocab: V, dim: 8}
  r: {op: GRU, in: xe, hidden: 16, state: ce}
  logits: {op: Affine, in: r, units: C}
loss: {op: CrossEntropy, logits: logits, target: y}
train: {lr: 0.02, batch: 8, epochs: 60}
EOF
for w in ab aB Ab AB abc ABC aBc AbC cab CAB cAB Cab bca BCA bcA; do
    printf 'lower\t%s\t%s\n' "$w" "$(printf '%s' "$w" | tr 'abcABC' 'llllll')"
    printf 'upper\t%s\t%s\n' "$w" "$(printf '%s' "$w" | tr 'abcABC' 'uuuuuu')"
done >cond.tsv
expect 0 "train a conditioned tagger" "$heed" train cond.yaml --data cond.tsv --threads 1 \
    --out cond.safetensors --quiet
expect 0 "infer a conditioned tagger" "$heed" infer cond.yaml --weights cond.safetensors \
    "$(printf 'lower\tabc')" "$(printf 'upper\tcAbba')"
[ "$(cat out.txt)" = "$(printf 'lll\nuuuuu')" ] || fail "infer a conditioned tagger: $(cat out.txt)"
cat >context.yaml <<'EOF'
heed: 1
inputs: {c: [B, U], x: [B, S], y: [B, S]}
data:
  c: {column: 0, tokens: chars, vocab: VC}
  x: {column: 1, tokens: words, vocab: V}
  y: {column: 2, tokens: words, vocab: C}
nodes:
  ce: {op: Embedding, in: c, vocab: VC, dim: 8}
  xe: {op: Embedding, in: x, vocab: V, dim: 8}
  att: {op: Attention, query: xe, keys: ce}
  logits: {op: Affine, in: [xe, att], units: C}
loss: {op: CrossEntropy, logits: logits, target: y}
train: {lr: 0.05, batch: 4, epochs: 40}
EOF
printf 'ab\tthe cat sat\tDET NOUN VERB\nabc\ta dog ran\tDET NOUN VERB\n' >context.tsv
printf 'ab\tthe dog sat\tDET NOUN VERB\nabc\ta cat ran\tDET NOUN VERB\n' >>context.tsv
expect 0 "train a tagger with context" "$heed" train context.yaml --data context.tsv --threads 1 \
    --out context.safetensors --quiet
expect 0 "infer a tagger with context" "$heed" infer context.yaml --weights context.safetensors \
    "$(printf 'abc\tthe cat sat')" "$(printf 'abc\ta dog')" "$(printf 'abc\tcat')"
[ "$(cat out.txt)" = "$(printf 'DET NOUN VERB\nDET NOUN\nNOUN')" ] ||
    fail "infer a tagger with context: $(cat out.txt)"
# a row whose tags are fewer than its characters is refused at its line (it
# was padded to its batch's longest row and scored where it had no tags)
printf 'abc\tlll\nab\tl\n' >short-tags.tsv
expect 1 "eval of a row with too few tags" "$heed" eval tagger.yaml --weights tagger.safetensors --data short-tags.tsv
contains err.txt "short-tags.tsv:2:1: error: field 'y' has 1 tokens but field 'x' has 2: both fill the dim S" \
    "eval of a row with too few tags"

# ------------------------------------------------------------ heed average
# --keep-epochs left one weights file per epoch; the mean of the last with
# itself is the last (x/2 + x/2 = x exactly) and scores as the run's weights do
for e in 1 12; do [ -f spell.ep$e.safetensors ] || fail "--keep-epochs wrote no spell.ep$e.safetensors"; done
[ ! -f spell.ep13.safetensors ] || fail "--keep-epochs wrote an epoch past the run"
expect 0 "heed average" "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out mean.safetensors \
    spell.ep12.safetensors spell.ep12.safetensors
contains out.txt "mean.safetensors: the mean of 2 weights files" "heed average"
expect 0 "heed eval of the mean" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    mean.safetensors --data scored.tsv --json
contains out.txt '"wer":33.3333' "the mean of a file with itself"
expect 0 "heed average of epochs" "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out \
    last3.safetensors spell.ep10.safetensors spell.ep11.safetensors spell.ep12.safetensors
# weights of other dims are refused, naming the file and the difference
expect 0 "train a smaller speller" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data \
    spell.tsv --epochs 1 --batch 16 --dim E=8 --dim H=16 --threads 1 --out small.safetensors --quiet
expect 1 "average of other dims" "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out \
    bad.safetensors spell.ep12.safetensors small.safetensors
contains err.txt "small.safetensors does not match spell.ep12.safetensors" "average of other dims"
contains err.txt "its parameter 2 is 'enc.weight_ih_l0' [48, 8], not 'enc.weight_ih_l0' [96, 8]" \
    "average of other dims"
[ ! -f bad.safetensors ] || fail "a refused average wrote its output"
# --init at other dims than the file's says which the file has
expect 1 "train --init at other dims" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data spell.tsv \
    --epochs 1 --batch 16 --dim E=8 --dim H=32 --threads 1 --init small.safetensors --out other.safetensors --quiet
contains err.txt "saved with heed.dims 'E=8,H=16,L=1'" "train --init at other dims"
expect 2 "average onto an input" "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out \
    spell.ep1.safetensors spell.ep1.safetensors spell.ep2.safetensors
# written files get 0666 less the umask, as any program's would
(umask 027 && "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out perm.safetensors \
    spell.ep12.safetensors >/dev/null) || fail "heed average under umask 027"
[ "$(stat -c %a perm.safetensors)" = 640 ] ||
    fail "perm.safetensors has mode $(stat -c %a perm.safetensors) under umask 027, not 640"
# --keep-epochs would write spell.ep1.safetensors, the run's --init: refused
cp spell.ep1.safetensors init-copy.safetensors
expect 2 "--keep-epochs over --init" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data spell.tsv \
    --epochs 1 --batch 16 --dim E=8 --dim H=32 --threads 1 --init spell.ep1.safetensors \
    --out ./spell.safetensors --keep-epochs --quiet
contains err.txt "--keep-epochs would write ./spell.ep1.safetensors over the input spell.ep1.safetensors" \
    "--keep-epochs over --init"
cmp -s spell.ep1.safetensors init-copy.safetensors || fail "--keep-epochs replaced the run's --init"
# the same file under another name is the same input
expect 2 "average onto ./input" "$heed" average "$src/graphs/bahdanau_seq2seq.yaml" --out \
    ./spell.ep2.safetensors spell.ep1.safetensors spell.ep2.safetensors
contains err.txt "--out ./spell.ep2.safetensors is the input spell.ep2.safetensors" \
    "average onto ./input"

# train refuses outputs that would overwrite its inputs (or each other),
# and an output it cannot write, before any training
cp "$src/graphs/bahdanau_seq2seq.yaml" own.yaml
cp spell.tsv spell.keep
for bad in "--out ./spell.tsv" "--log spell.tsv" "--out own.yaml" "--step-log own.yaml" \
    "--out w.safetensors --log w.safetensors" "--init spell.ep1.safetensors --out spell.ep1.safetensors"; do
    # shellcheck disable=SC2086
    expect 2 "train $bad" "$heed" train own.yaml --data spell.tsv --epochs 1 --quiet $bad
    contains err.txt "would overwrite" "train $bad"
done
cmp -s spell.tsv spell.keep || fail "a refused train changed its data"
cmp -s own.yaml "$src/graphs/bahdanau_seq2seq.yaml" || fail "a refused train changed its model"
for bad in /nonexistent-dir/w.safetensors .; do
    expect 1 "train --out $bad" "$heed" train own.yaml --data spell.tsv --epochs 1 --quiet --out "$bad"
    contains err.txt "heed train: error: --out $bad: " "train --out $bad"
done

# ------------------------------------------------------------ --tokens
# The same speller with its target read as space-separated words: three tokens
# instead of five, so the model's token error rate is the symbol error rate.
# The weights remember it: eval and infer need no option.
expect 0 "train the word speller" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data \
    spell.tsv --epochs 12 --batch 16 --lr 0.01 --dim E=8 --dim H=32 --threads 1 \
    --out words.safetensors --quiet --tokens tgt=words
expect 0 "heed eval of words" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    words.safetensors --data scored.tsv --json
for want in '"exact_match":66.6667' '"wer":33.3333' '"token_error_rate":11.1111' \
    '"symbol_error_rate":11.1111'; do
    contains out.txt "$want" "heed eval of words"
done
expect 0 "heed infer of words" "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    words.safetensors cab
contains out.txt "c a b" "heed infer of words"
# a classifier's test rows with a label it never saw are counted apart
printf 'abc\tde\nxyz\ten\nbca\tde\n' >cls-train.tsv
printf 'abc\tde\nzzz\tfr\n' >cls-test.tsv
expect 0 "train a classifier" "$heed" train "$src/graphs/char_classifier.yaml" --data cls-train.tsv \
    --epochs 1 --dim E=4 --dim H=8 --out cls.safetensors --quiet
expect 0 "eval with an unknown label" "$heed" eval "$src/graphs/char_classifier.yaml" --weights \
    cls.safetensors --data cls-test.tsv --json
contains out.txt '"rows":2,' "eval with an unknown label"
contains out.txt '"unknown_labels":1,' "eval with an unknown label"
# references without tokens have no token error rate (not edits per one token)
printf 'cab\t\n' >empty-target.tsv
expect 0 "heed eval of empty references" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights words.safetensors --data empty-target.tsv --json
contains out.txt '"token_error_rate":null' "heed eval of empty references"
# --plot after --resume draws the epochs before the stop too: the picture of
# 2 epochs then 1 more is that of 3 at once
for run in "--epochs 2 --dim E=4 --dim H=8 --out p2.safetensors" \
    "--epochs 3 --resume p2.safetensors"; do
    # shellcheck disable=SC2086
    expect 0 "train --plot $run" "$heed" train "$src/graphs/char_classifier.yaml" --data \
        cls-train.tsv --valid cls-train.tsv --plot p2.svg --quiet $run
done
expect 0 "train --plot in one run" "$heed" train "$src/graphs/char_classifier.yaml" --data \
    cls-train.tsv --valid cls-train.tsv --epochs 3 --dim E=4 --dim H=8 --out p3.safetensors \
    --plot p3.svg --quiet
cmp -s p2.svg p3.svg || fail "--plot after --resume differs from one run's: $(diff p2.svg p3.svg | head -5)"
cmp -s p2.safetensors p3.safetensors || fail "weights after --resume differ from one run's"
# --seed takes train: seed's range, 0 to 2^32 - 1
expect 0 "train --seed 2^32 - 1" "$heed" train "$src/graphs/char_classifier.yaml" --data \
    cls-train.tsv --epochs 1 --dim E=4 --dim H=8 --out s.safetensors --quiet --seed 4294967295
expect 2 "train --seed 2^32" "$heed" train "$src/graphs/char_classifier.yaml" --data \
    cls-train.tsv --epochs 1 --dim E=4 --dim H=8 --out s.safetensors --quiet --seed 4294967296
# a run with no epoch left draws what it has; a log into a pipe has its header
expect 0 "train --plot of a finished run" "$heed" train "$src/graphs/char_classifier.yaml" \
    --data cls-train.tsv --valid cls-train.tsv --epochs 3 --resume p2.safetensors --plot p4.svg
cmp -s p3.svg p4.svg || fail "--plot of a finished run: $(ls -l p4.svg 2>&1)"
"$heed" train "$src/graphs/char_classifier.yaml" --data cls-train.tsv --epochs 1 --dim E=4 \
    --dim H=8 --out p5.safetensors --quiet --log /dev/stdout | sed -n '/^epoch,/p' >piped.txt
[ "$(wc -l <piped.txt)" -eq 1 ] || fail "--log into a pipe has $(wc -l <piped.txt) header lines"
# references are scored whole, however long: 1500 "é" after "a b c" (3005
# tokens, 4505 bytes) against the output "a b c" are 3000 edits in characters
# and 1500 in symbols; the path is a JSON string, quote escaped
e=$(printf '\303\251')
awk -v e="$e" 'BEGIN { r = "a b c"; for (i = 0; i < 1500; i++) r = r " " e; print "abc\t" r }' \
    >'long"ref.tsv'
expect 0 "heed eval of a long reference" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights spell.safetensors --data 'long"ref.tsv' --json
for want in '"exact_match":0.0000' '"token_error_rate":99.8336' '"symbol_error_rate":99.8004' \
    '"data":"long\"ref.tsv"'; do
    contains out.txt "$want" "heed eval of a long reference"
done
# a label is printed whole however long
long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "L" }')
printf 'abc\t%s\nxyz\t%s\n' "$long" "$long" >long-label.tsv
expect 0 "train a classifier of a long label" "$heed" train "$src/graphs/char_classifier.yaml" \
    --data long-label.tsv --epochs 1 --dim E=4 --dim H=8 --out long-label.safetensors --quiet
expect 0 "infer a long label" "$heed" infer "$src/graphs/char_classifier.yaml" --weights \
    long-label.safetensors abc
contains out.txt "$long	" "infer a long label"
# a target column empty in every row leaves nothing to learn (such a model
# could only answer <unk>): refused before training
printf 'abc\t\nxy\t\n' >no-labels.tsv
expect 1 "train a classifier without labels" "$heed" train "$src/graphs/char_classifier.yaml" \
    --data no-labels.tsv --epochs 1 --dim E=4 --dim H=8 --out no-labels.safetensors --quiet
contains err.txt "no-labels.tsv: the target column (field 'lang', column 1) is empty in every row" \
    "train a classifier without labels"
[ ! -e no-labels.safetensors ] || fail "training without labels wrote weights"
# a finished run says so rather than 'saved'
expect 0 "resume a finished run" "$heed" train "$src/graphs/char_classifier.yaml" --data \
    cls-train.tsv --epochs 1 --resume cls.safetensors
contains out.txt "nothing to train: cls.safetensors has finished its run (1 epoch;" \
    "resume a finished run"
# a classifier neither decodes nor draws attention: said, not ignored
expect 2 "infer --attention of a classifier" "$heed" infer "$src/graphs/char_classifier.yaml" \
    --weights cls.safetensors --attention a.svg abc
contains err.txt "--attention is for seq2seq models" "infer --attention of a classifier"
[ ! -e a.svg ] || fail "infer --attention of a classifier wrote a.svg"
expect 2 "eval --beam of a classifier" "$heed" eval "$src/graphs/char_classifier.yaml" \
    --weights cls.safetensors --data cls-test.tsv --beam 3
# a decoder without attention has no map to draw: an error, not a crash
cat >plain.yaml <<'YAML'
heed: 1
name: plain
inputs: {src: [B, S], tgt: [B, T]}
data:
  src: {column: 0, tokens: chars, vocab: V_src}
  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: true}
nodes:
  se: {op: Embedding, in: src, vocab: V_src, dim: 4}
  enc: {op: GRU, in: se, hidden: 8}
  te: {op: Embedding, in: tgt, vocab: V_tgt, dim: 4}
  dec: {op: GRU, in: te, hidden: 8, state: enc.state}
  logits: {op: Affine, in: dec, units: V_tgt}
loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}
YAML
expect 0 "train a decoder without attention" "$heed" train plain.yaml --data spell1.tsv \
    --epochs 1 --out plain.safetensors --quiet
# run's sizes are the weights file's: --dim beside --weights is refused
expect 2 "run --weights with --dim" "$heed" run plain.yaml --inputs in.safetensors --out o.safetensors \
    --weights plain.safetensors --dim V_tgt=9
contains err.txt "with --weights the sizes are those" "run --weights with --dim"
# a partial match says what matched, not that all of it did
sed 's/^loss:/  extra: {op: Affine, in: dec, units: 3}\nloss:/' plain.yaml >plain2.yaml
expect 0 "train --init --partial" "$heed" train plain2.yaml --data spell1.tsv --epochs 1 \
    --init plain.safetensors --partial --out plain2.safetensors
contains err.txt "partial match: 12 matched, 2 missing" "train --init --partial"
! grep -q "all tensors matched" err.txt || fail "a partial match said all tensors matched"
for to in plain.svg -; do
    expect 1 "infer --attention $to without attention" "$heed" infer plain.yaml --weights \
        plain.safetensors --attention "$to" abc
    contains err.txt "gives no attention weights to draw" "infer --attention $to without attention"
done
# a control character in a text is drawn as its picture: the SVG stays XML
expect 0 "infer --attention of a form feed" "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights spell.safetensors --attention ff.svg "$(printf 'a\014bc')"
! grep -q "$(printf '\014')" ff.svg || fail "a form feed went into the SVG as it was"
contains ff.svg "a$(printf '\342\220\214')bc" "infer --attention of a form feed"
# U+FFFF (valid UTF-8, not an XML character) and invalid bytes in a column
# the decoding does not read (the title shows the whole text) are drawn as
# U+FFFD, so the file stays XML; the terminal map draws an escape sequence's
# control characters as pictures instead of sending them to the terminal
expect 0 "infer --attention of non-XML characters" "$heed" infer \
    "$src/graphs/bahdanau_seq2seq.yaml" --weights spell.safetensors --attention nx.svg \
    "$(printf 'a\357\277\277b')" "$(printf 'ab\tc\377\376')"
! grep -q "$(printf '\357\277\277')" nx.svg || fail "U+FFFF went into the SVG"
! grep -q "$(printf '\377')" nx.svg || fail "invalid UTF-8 went into the SVG"
contains nx.svg "a$(printf '\357\277\275')b" "infer --attention of U+FFFF"
contains nx.svg "c$(printf '\357\277\275\357\277\275')" "infer --attention of invalid UTF-8"
expect 0 "infer --attention - of an escape sequence" "$heed" infer \
    "$src/graphs/bahdanau_seq2seq.yaml" --weights spell.safetensors --attention - \
    "$(printf 'a\033]0;x\007b')"
! grep -q "$(printf '\033')" out.txt || fail "infer --attention - printed an escape character"
contains out.txt "a$(printf '\342\220\233')]0;x$(printf '\342\220\207')b" \
    "infer --attention - of an escape sequence"
# a drawing that could not be written all the way (a full disk) is an error
expect 1 "infer --attention onto a full disk" "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights spell.safetensors --attention /dev/full abc
contains err.txt "cannot write /dev/full" "infer --attention onto a full disk"
expect 1 "inspect --dot onto a full disk" "$heed" inspect "$src/graphs/bahdanau_seq2seq.yaml" \
    --dot /dev/full
contains err.txt "cannot write /dev/full" "inspect --dot onto a full disk"
# a bad text is named by its place among all of them, counting from 1
awk 'BEGIN { for (i = 1; i < 300; i++) print "abc"; printf "a\377c\n" }' >bad300.txt
"$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" --weights spell.safetensors <bad300.txt \
    >out.txt 2>err.txt && fail "heed infer took invalid UTF-8"
contains err.txt "the 300th text is not valid UTF-8" "heed infer of invalid UTF-8 on line 300"
# classification runs a batch at a time: the same text gets the same answer
# in the first batch and the third
awk 'BEGIN { for (i = 0; i < 600; i++) print substr("abcxyzabc", 1 + i % 7, 3) }' >many.txt
"$heed" infer "$src/graphs/char_classifier.yaml" --weights cls.safetensors <many.txt >out.txt \
    2>err.txt || fail "heed infer of 600 texts: $(cat err.txt)"
[ "$(wc -l <out.txt)" -eq 600 ] || fail "heed infer of 600 texts: $(wc -l <out.txt) lines"
[ "$(sed -n 1p out.txt)" = "$(sed -n 589p out.txt)" ] || fail "classify: text 1 and 589 differ"
# from stdin: one output line per input line, blank ones included
printf 'cab\n\ncab\n' | "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    words.safetensors >out.txt 2>err.txt || fail "heed infer from stdin: $(cat err.txt)"
[ "$(wc -l <out.txt)" -eq 3 ] || fail "heed infer from stdin: $(wc -l <out.txt) lines for 3"
[ "$(sed -n 2p out.txt)" = "" ] || fail "heed infer: a blank line gave '$(sed -n 2p out.txt)'"
[ "$(sed -n 1p out.txt)" = "$(sed -n 3p out.txt)" ] || fail "heed infer from stdin: lines 1, 3 differ"
printf 'ca\000b\n' | "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    words.safetensors >out.txt 2>err.txt && fail "heed infer took a NUL byte"
contains err.txt "stdin: line 1 holds a NUL byte" "heed infer of a NUL byte"
# outputs that cannot be written are found before any work
expect 1 "infer --attention into a missing directory" "$heed" infer \
    "$src/graphs/bahdanau_seq2seq.yaml" --weights words.safetensors --attention /nonexistent-dir/a.svg cab
[ ! -s out.txt ] || fail "infer --attention into a missing directory printed results"
expect 1 "inspect --dot onto a directory" "$heed" inspect "$src/graphs/bahdanau_seq2seq.yaml" --dot .
[ ! -s out.txt ] || fail "inspect --dot onto a directory printed its table"
expect 2 "--tokens against a checkpoint" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --resume words.safetensors --epochs 13 --tokens tgt=chars --quiet
contains err.txt "words.safetensors tokenises field 'tgt' as words; --tokens tgt=chars needs new weights" \
    "--tokens against a checkpoint"
expect 2 "--tokens without =" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data spell.tsv \
    --tokens tgt
expect 2 "--tokens of a field the model lacks" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --tokens tgtt=words --out none.safetensors
contains err.txt "has no data field 'tgtt'; did you mean 'tgt'?" "--tokens of a field the model lacks"

# a file whose tokenisation metadata is damaged (same length, so the header
# stays valid) is refused, naming the file and the field
perl -pe 's/tgt=words/tgt=wordz/' words.safetensors >damaged.safetensors
expect 1 "damaged heed.tokens" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    damaged.safetensors --data scored.tsv
contains err.txt "damaged.safetensors: error: metadata heed.tokens: field 'tgt' cannot be tokenised as 'wordz'" \
    "damaged heed.tokens"

# a checkpoint's counts are read strictly: one past 2^53, with trailing text,
# or a position past the end of an epoch of the data is refused by name
# (set_meta rewrites one metadata value and the header's length)
set_meta() {
    perl -e 'local $/; open my $f, "<", $ARGV[0] or die; binmode $f; my $d = <$f>;
        my $n = unpack("Q<", substr($d, 0, 8)); my $h = substr($d, 8, $n);
        $h =~ s/"\Q$ARGV[1]\E":"[^"]*"/"$ARGV[1]":"$ARGV[2]"/ or die "no $ARGV[1]";
        $h =~ s/ +$//; $h .= " " x ((8 - length($h) % 8) % 8);
        print pack("Q<", length $h), $h, substr($d, 8 + $n)' "$@"
}
for bad in "heed.train.steps 18446744073709551615" "heed.train.steps 9007199254740993" \
    "heed.train.epoch 1x" "heed.train.runs -3" "heed.train.lr +0.003" "heed.train.loss_sum +5" \
    "heed.train.seed 99999999999999999999999" "heed.train.config seed=-1" \
    "heed.train.config lr=0x1p-8"; do
    # shellcheck disable=SC2086
    set_meta words.safetensors $bad >damaged.safetensors
    expect 1 "checkpoint with $bad" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
        --data spell.tsv --resume damaged.safetensors --epochs 13 --quiet
    contains err.txt "damaged.safetensors: error: the checkpoint's training state is not valid: ${bad%% *}" \
        "checkpoint with $bad"
done
# a learning rate decayed past the smallest float stays at it: the run ends
# and its checkpoint resumes (a rate of 0 was refused and left unset)
printf 'abc\ten\nxyz\tfr\nabd\ten\n' >decay.tsv
expect 0 "lr decayed to nothing" "$heed" train "$src/graphs/char_classifier.yaml" --data decay.tsv \
    --lr 1e-9 --lr-decay 1e-6 --epochs 9 --out decay.safetensors --quiet
expect 0 "resume after the decay" "$heed" train "$src/graphs/char_classifier.yaml" --data decay.tsv \
    --resume decay.safetensors --epochs 10 --quiet
# a negative zero the options take is written as -0 and read back
expect 0 "train with -0 settings" "$heed" train "$src/graphs/char_classifier.yaml" --data decay.tsv \
    --label-smoothing -0 --clip -0 --epochs 1 --out zero.safetensors --quiet
expect 0 "resume with -0 settings" "$heed" train "$src/graphs/char_classifier.yaml" --data decay.tsv \
    --resume zero.safetensors --epochs 2 --quiet
# a count that loads but leaves no room to count on is refused before training
for near in "heed.train.steps 9007199254740992" "heed.train.runs 4503599627370497"; do
    # shellcheck disable=SC2086
    set_meta words.safetensors $near >near.safetensors
    cp near.safetensors near-before.safetensors
    expect 1 "checkpoint with $near" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
        --data spell.tsv --resume near.safetensors --epochs 13 --quiet
    contains err.txt "near.safetensors: its step, run or row counts are past 2^52" "checkpoint with $near"
    cmp -s near.safetensors near-before.safetensors || fail "a refused resume changed its checkpoint"
done
# commands that only use the weights read them whatever the training state
printf 'abc\ta b c\n' >one.tsv
expect 0 "eval of a checkpoint with a damaged state" "$heed" eval "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights damaged.safetensors --data one.tsv
expect 0 "infer with a checkpoint with a damaged state" "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" \
    --weights damaged.safetensors abc
# other data (fewer rows) under a checkpoint is refused, even at an epoch's end,
# and the refused resume leaves its logs whole (rows past the checkpoint too)
printf 'step,loss\n1,0.5\n99999,0.1\n' >kept-steps.csv
cp kept-steps.csv kept-steps-before.csv
expect 1 "resume on other data" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell1.tsv --resume words.safetensors --epochs 13 --quiet --step-log kept-steps.csv \
    --log refused-new.csv
contains err.txt "words.safetensors was trained on" "resume on other data"
contains err.txt "but spell1.tsv has" "resume on other data"
cmp -s kept-steps.csv kept-steps-before.csv || fail "a refused resume changed its step log"
[ ! -e refused-new.csv ] || fail "a refused resume created its --log"
set_meta words.safetensors heed.train.batch 99999 >damaged.safetensors
expect 1 "checkpoint past an epoch" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --resume damaged.safetensors --epochs 13 --quiet
contains err.txt "damaged.safetensors stopped after batch 99999 of an epoch, but spell.tsv makes" \
    "checkpoint past an epoch"

# --label-smoothing: a number in [0, 0.99], fixed by a checkpoint like the rest
expect 2 "--label-smoothing out of range" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --label-smoothing 1.5
contains err.txt "--label-smoothing takes a number from 0 to 0.99" "--label-smoothing out of range"
expect 2 "--label-smoothing on resume" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --resume words.safetensors --label-smoothing 0.1
expect 2 "--dim on resume" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" \
    --data spell.tsv --resume words.safetensors --dim H=32
contains err.txt "--dim does not go with --resume" "--dim on resume"

# numbers out of their range, NaN and infinities are refused, not ignored:
# the training options have the YAML's ranges
for bad in "--lr nan" "--lr=500" "--lr 0" "--lr-decay 0" "--lr-decay inf" "--clip -1" \
    "--clip nan"; do
    # shellcheck disable=SC2086
    expect 2 "train $bad" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data spell.tsv \
        --out none.safetensors $bad
    contains err.txt "${bad%%[ =]*} takes a number from" "train $bad"
done
[ ! -e none.safetensors ] || fail "a refused option still wrote none.safetensors"
expect 2 "--alpha nan" "$heed" infer "$src/graphs/bahdanau_seq2seq.yaml" --weights \
    words.safetensors --beam 3 --alpha nan abc
contains err.txt "--alpha takes a number from 0 to 10, not 'nan'" "--alpha nan"
expect 2 "gradcheck --step 0" "$heed" gradcheck "$src/graphs/bahdanau_seq2seq.yaml" --step 0
for bad in 0:5 2:5:7 4:100000 x; do
    expect 2 "bench --decode $bad" "$heed" bench "$src/graphs/bahdanau_seq2seq.yaml" --decode "$bad"
    contains err.txt "--decode takes BATCH:STEPS" "bench --decode $bad"
done

# ------------------------------------------------------------ files and dims
# a file that cannot be read says why; a dim out of range is a usage error
expect 1 "check of a missing file" "$heed" check missing.yaml
contains err.txt "cannot open missing.yaml: No such file or directory" "check of a missing file"
expect 1 "check of a directory" "$heed" check .
contains err.txt "cannot read .: Is a directory" "check of a directory"
expect 1 "train on a directory" "$heed" train "$src/graphs/bahdanau_seq2seq.yaml" --data . \
    --out none.safetensors
contains err.txt "cannot read .: Is a directory" "train on a directory"
for bad in H=99999999999999999999 H=2147483649 H=0 H=; do
    expect 2 "--dim $bad" "$heed" check "$src/graphs/bahdanau_seq2seq.yaml" --dim "$bad"
    contains err.txt "--dim takes NAME=N with N from 1 to 2147483648, not '$bad'" "--dim $bad"
done

# ------------------------------------------------------------ inspect, gradcheck
# docs/CLI.md's sample of heed inspect: its dims and node table are this
# heed's (the memory plan depends on the CPU, so it is not compared)
expect 0 "inspect as in the docs" "$heed" inspect "$src/graphs/bahdanau_seq2seq.yaml"
sed -n '/^\$ heed inspect graphs\/bahdanau_seq2seq.yaml$/,/^total /p' "$doc" | sed 1d >doc-inspect.txt
sed -n '1,/^total /p' out.txt >got-inspect.txt
[ -s doc-inspect.txt ] || fail "docs/CLI.md has no heed inspect sample"
cmp -s doc-inspect.txt got-inspect.txt || fail "docs/CLI.md's heed inspect sample differs: $(diff doc-inspect.txt got-inspect.txt | head -5)"
g=$src/graphs/bahdanau_seq2seq.yaml
expect 0 "inspect" "$heed" inspect "$g" --dim H=32
contains out.txt "lower bound" "inspect memory plan"
contains out.txt "GRU" "inspect nodes"
expect 0 "inspect --json" "$heed" inspect "$g" --dim H=32 --json
contains out.txt '"arena":' "inspect --json"
expect 0 "inspect --dot" "$heed" inspect "$g" --dim H=32 --dot graph.dot
contains graph.dot "digraph" "inspect --dot"
expect 0 "gradcheck" "$heed" gradcheck "$g" --dim E=4 --dim H=6 --dim B=2 --dim S=4 --dim T=3 --quiet
# --quiet prints the verdict and failing rows only
[ "$(grep -c . out.txt)" -eq 1 ] || fail "gradcheck --quiet printed passing rows: $(head -c 300 out.txt)"
# (how many tensors had no point compared rests on the CPU's rounding)
grep -qE '^worst relative error [0-9.e+-]+ \(tolerance 0\.05[;)].*: pass$' out.txt ||
    fail "gradcheck verdict: $(cat out.txt)"
expect 2 "inspect --json --dot -" "$heed" inspect "$g" --json --dot -
expect 0 "inspect --dot -" "$heed" inspect "$g" --dot -
[ "$(head -c 8 out.txt)" = "digraph " ] || fail "inspect --dot - printed more than the graph: $(head -c 80 out.txt)"
printf 'heed: 1\nname: "say \\"hi\\" \\\\ bye"\ninputs: {x: [B, 4]}\nnodes:\n  t: {op: Tanh, in: x}\n' >quoted-name.yaml
expect 0 "inspect --dot of a quoted name" "$heed" inspect quoted-name.yaml --dot quoted.dot
[ "$(head -n 1 quoted.dot)" = 'digraph "say \"hi\" \\ bye" {' ] ||
    fail "the dot graph's name is not escaped: $(head -n 1 quoted.dot)"
cp "$g" model-kept.yaml
expect 2 "inspect --dot over the model" "$heed" inspect model-kept.yaml --dot model-kept.yaml
cmp -s "$g" model-kept.yaml || fail "inspect --dot replaced the model file"
expect 1 "inspect --dot ''" "$heed" inspect "$g" --dot ""
[ ! -s out.txt ] || fail "inspect printed its table before refusing an empty --dot"
# a check that compared nothing fails: every point skipped at a step below
# float32's rounding, or a loss that is infinite
expect 1 "gradcheck comparing nothing" "$heed" gradcheck "$src/graphs/char_classifier.yaml" --step 1e-9
contains out.txt "no point could be compared" "gradcheck comparing nothing"
{
    printf 'heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a0: {op: Affine, in: x, units: 4}\n'
    for i in 1 2 3 4 5 6 7 8 9 10; do printf '  a%d: {op: Mul, in: [a%d, a%d]}\n' $i $((i - 1)) $((i - 1)); done
    printf 'loss: {op: Sum, in: a10}\n'
} >inf-loss.yaml
expect 1 "gradcheck of an infinite loss" "$heed" gradcheck inf-loss.yaml
contains err.txt "the loss is infinite on the random inputs" "gradcheck of an infinite loss"
# a gradient check that cannot pass at a silly tolerance fails with exit 1
expect 1 "gradcheck at tolerance 0" "$heed" gradcheck "$g" --dim E=4 --dim H=6 --dim B=2 --dim S=4 --dim T=3 --tol 0 --quiet
# a ReLU classifier at its own dims: kinks near a probed weight are skipped,
# not measured as a 6% error (seeds 1 to 3 each)
for seed in 1 2 3; do
    expect 0 "gradcheck of char_classifier, seed $seed" "$heed" gradcheck \
        "$src/graphs/char_classifier.yaml" --seed "$seed" --quiet
done

# heed data says which options change nothing rather than ignore them
expect 2 "data dates --source" "$heed" data dates --source /nonexistent --out ds
contains err.txt "the dates dataset reads no files" "data dates --source"
expect 2 "data --explain --out" "$heed" data dates --explain "9/27/94" --out ds
expect 2 "data --list --seed" "$heed" data --list --seed 5
[ ! -e ds ] || fail "heed data wrote ds for a refused command"

# ------------------------------------------------------------ bench
# decoding's sources are as long as the dim of the source input's axis, S
# here, whatever other dims come after (L is the encoder's depth)
expect 0 "bench --decode" "$heed" bench "$src/graphs/bahdanau_seq2seq.yaml" --dim S=7 --dim L=2 \
    --dim E=4 --dim H=8 --threads 1 --repeat 1 --warmup 0 --no-train --no-forward --decode 2:3
contains out.txt "(greedy, batch 2, 3 steps, sources of 7)" "bench --decode"
# the profile is of the training step, or of the forward pass with --no-train
g=$src/graphs/self_attention_encoder.yaml
small="--dim B=2 --dim L=4 --dim E=16 --dim F=32 --threads 1 --repeat 2 --warmup 0"
# shellcheck disable=SC2086
expect 0 "bench" "$heed" bench "$g" $small
contains out.txt "per-node profile of the training step (ms per step)" "bench profile"
contains out.txt "memory plan (training)" "bench memory plan"
# shellcheck disable=SC2086
expect 0 "bench --no-train" "$heed" bench "$g" $small --no-train
contains out.txt "per-node profile of the forward pass (ms per pass)" "bench --no-train profile"
contains out.txt "memory plan (inference)" "bench --no-train memory plan"
# shellcheck disable=SC2086
expect 0 "bench --no-train --json" "$heed" bench "$g" $small --no-train --json
contains out.txt '"profile_of":"forward","profile":[{"node":"emb","op":"Embedding"' \
    "bench --json profile"
contains out.txt '"node":"layers.1.ff2","op":"Affine"' "bench --json profile nodes"
# timings not taken are null, not -1 (a number a script would average in)
contains out.txt '"train_ms":null,"decode_ms":null,' "bench --json skipped timings"

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "ok"
