#!/usr/bin/env bash
# results.sh - trains and evaluates every shipped graph on the project's
# datasets and prints the README's results table. Each run's log, CSV and
# curves stay in the output directory.
#
#   bash bench/results.sh [OUT_DIR] [THREADS]      (defaults: runs, 2)
#   ONLY="dates_bahdanau g2p_bahdanau" bash bench/results.sh   # a subset
#
# Runs one after another: two runs at once would share the two cores and
# distort each other's times.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-runs}" && cd "${1:-runs}" && pwd)"
threads="${2:-2}"
heed="${HEED:-$root/build/heed}"
only="${ONLY:-}"

want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

data() { # NAME: make the dataset once
  [ -f "$out/data/$1/test.tsv" ] || "$heed" data "$1" --out "$out/data/$1" > /dev/null
}

# run NAME GRAPH DATASET EPOCHS [train options...]: train, then evaluate on test.
# With avg=FIRST before it, the weights evaluated are the mean of epochs FIRST
# to EPOCHS (heed train --keep-epochs, then heed average).
run() {
  local name=$1 graph=$2 set=$3 epochs=$4
  shift 4
  want "$name" || return 0
  data "$set"
  local start end keep=() weights="$out/$name.safetensors"
  [ -z "${avg:-}" ] || keep=(--keep-epochs)
  start=$(date +%s)
  "$heed" train "$root/graphs/$graph.yaml" --data "$out/data/$set/train.tsv" \
    --valid "$out/data/$set/valid.tsv" --epochs "$epochs" --threads "$threads" \
    --out "$out/$name.safetensors" --log "$out/$name.csv" --plot "$out/$name.svg" \
    --quiet "${keep[@]}" "$@" > "$out/$name.train.log" 2>&1
  end=$(date +%s)
  echo "$((end - start))" > "$out/$name.seconds"
  if [ -n "${avg:-}" ]; then
    weights="$out/$name.avg.safetensors"
    "$heed" average "$root/graphs/$graph.yaml" --out "$weights" \
      $(for e in $(seq "$avg" "$epochs"); do echo "$out/$name.ep$e.safetensors"; done) > /dev/null
  fi
  "$heed" eval "$root/graphs/$graph.yaml" --weights "$weights" \
    --data "$out/data/$set/test.tsv" --threads "$threads" --json > "$out/$name.eval.json"
  if [[ "$graph" == *seq2seq ]]; then
    "$heed" eval "$root/graphs/$graph.yaml" --weights "$weights" \
      --data "$out/data/$set/test.tsv" --threads "$threads" --beam 5 --alpha 0.6 \
      --json > "$out/$name.beam5.json"
  fi
  echo "done $name in $((end - start)) s" >&2
}

run dates_bahdanau bahdanau_seq2seq dates 3
run dates_luong luong_dot_seq2seq dates 4
run addition_bahdanau bahdanau_seq2seq addition 10
run addition_luong luong_dot_seq2seq addition 10
avg=13 run g2p_bahdanau bahdanau_seq2seq g2p 15 --dim E=64 --dim L=2 --dim H=384 --lr 0.002 \
  --lr-decay 0.85 --tokens tgt=words --label-smoothing 0.1
run g2p_luong luong_dot_seq2seq g2p 10 --dim E=64 --lr 0.002 --lr-decay 0.85 --tokens tgt=words
run langid_encoder self_attention_encoder langid 10
run langid_chars char_classifier langid 10

# the table
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"; }
printf '\n| graph | dataset | command | test result | training time |\n|---|---|---|---|---|\n'
for f in "$out"/*.eval.json; do
  name=$(basename "$f" .eval.json)
  secs=$(cat "$out/$name.seconds")
  if grep -q exact_match "$f"; then
    b="$out/$name.beam5.json"
    result="exact match $(field "$f" exact_match)% greedy, $(field "$b" exact_match)% beam 5"
    if grep -q symbol_error_rate "$f"; then # phonemes: the G2P measures
      result="WER $(field "$f" wer)% greedy, $(field "$b" wer)% beam 5; PER $(field "$f" symbol_error_rate)% greedy, $(field "$b" symbol_error_rate)% beam 5"
    fi
  else
    result="accuracy $(field "$f" accuracy)%"
  fi
  printf '| %s | %s | `bench/results.sh` (%s) | %s | %d min %02d s |\n' "${name#*_}" "${name%%_*}" \
    "$name" "$result" $((secs / 60)) $((secs % 60))
done
