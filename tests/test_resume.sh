#!/bin/sh
# test_resume.sh HEED WORKDIR - a training run killed with SIGKILL at any
# moment leaves a checkpoint that loads, and resuming from it gives the same
# step losses, bit for bit, and the same final weights as a run that was never
# interrupted.
#
# The run checkpoints every 7 steps and logs every step's loss. It is killed
# three times, each time once its step log has grown past a mark, so the kills
# land mid-epoch, between checkpoints and (racing the writer) possibly during
# one. A resume cuts the logs back to its checkpoint, so the step log ends up
# the uninterrupted run's, byte for byte, and each epoch is logged once.
set -eu
heed=$1
work=$2
model=$(cd "$(dirname "$0")/.." && pwd)/graphs/bahdanau_seq2seq.yaml
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

"$heed" data dates --out data --train 1200 --valid 100 --test 10 --seed 3 >/dev/null
# a resumed run takes its settings from the checkpoint: only $opts again
opts="--data data/train.tsv --valid data/valid.tsv --threads 1 --checkpoint-every 7 --quiet"
fresh="--epochs 2 --batch 16 --dim E=8 --dim H=16 --seed 5"

# the uninterrupted reference
# shellcheck disable=SC2086
"$heed" train "$model" $opts $fresh --out ref.safetensors --step-log ref.csv --log ref-epochs.csv \
    >/dev/null || fail "the reference run failed"
steps=$(wc -l <ref.csv)
[ "$steps" -eq 150 ] || fail "expected 150 steps (2 epochs of 75), got $steps"

# the run that gets killed
kills=0
for mark in 12 60 101; do
    if [ -f run.safetensors ]; then
        # shellcheck disable=SC2086
        "$heed" train "$model" $opts --resume run.safetensors --step-log run.csv \
            --log run-epochs.csv >/dev/null &
    else
        # shellcheck disable=SC2086
        "$heed" train "$model" $opts $fresh --out run.safetensors --step-log run.csv \
            --log run-epochs.csv >/dev/null &
    fi
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        [ -f run.csv ] && [ "$(wc -l <run.csv)" -ge "$mark" ] && break
        sleep 0.01
    done
    if kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait "$pid" 2>/dev/null || true
    # whatever the moment, the checkpoint loads
    "$heed" eval "$model" --weights run.safetensors --data data/test.tsv >/dev/null ||
        fail "the checkpoint after the kill at mark $mark does not load"
done
[ "$kills" -ge 2 ] || fail "only $kills of 3 kills landed before the run finished"

# shellcheck disable=SC2086
"$heed" train "$model" $opts --resume run.safetensors --step-log run.csv --log run-epochs.csv \
    >/dev/null || fail "the final resume failed"

# every step logged once, with the uninterrupted run's loss
cmp ref.csv run.csv || fail "the resumed step log differs from the uninterrupted run's: $(diff ref.csv run.csv | head -5)"

cmp ref.safetensors run.safetensors || fail "final weights differ from the uninterrupted run"

# each epoch's line (the last one written for it: a kill may have come after
# it and before its checkpoint) matches the reference but for the seconds,
# its train loss a mean over all the epoch's batches, the resumed ones too
awk -F, '$1 == "epoch" { next }
         NR == FNR { ref[$1] = $1 "," $2 "," $3 "," $4 "," $5 "," $6; next }
         { last[$1] = $1 "," $2 "," $3 "," $4 "," $5 "," $6 }
         END { for (e in ref) if (last[e] != ref[e]) {
                   print "epoch " e ": " last[e] ", uninterrupted " ref[e]; bad = 1 }
               exit bad }' ref-epochs.csv run-epochs.csv || fail "resumed epoch lines differ"
# the log starts with its header, once, though the first kill came before
# the first epoch ended (and so before anything else was written)
[ "$(head -n 1 run-epochs.csv)" = "$(head -n 1 ref-epochs.csv)" ] ||
    fail "the resumed log starts with '$(head -n 1 run-epochs.csv)', not the header"
[ "$(grep -c '^epoch,' run-epochs.csv)" -eq 1 ] || fail "the resumed log's header is not there once"
[ "$(cut -d, -f1 run-epochs.csv | sort | uniq -d)" = "" ] || fail "an epoch is logged twice: $(cat run-epochs.csv)"
echo "ok: $kills kills, the step log and final weights identical"
