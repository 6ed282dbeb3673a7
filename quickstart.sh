#!/usr/bin/env bash
# quickstart.sh - from a fresh Debian 12 machine to a trained model in a few
# minutes: installs the Debian packages heed needs (apt-get, as root or with
# sudo), builds heed in build/, makes the dates dataset, trains the Bahdanau
# seq2seq graph on it, evaluates it on the test split and shows what it does
# with a few dates, including where it looks while it writes them.
#
# Everything it writes stays in this folder: build/, data/dates/,
# dates.safetensors (weights and checkpoint), dates.svg (training curves),
# attention.svg (attention maps).
set -euo pipefail
cd "$(dirname "$0")"

echo "== packages"
bash .ci/install

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" > /dev/null
heed=build/heed
$heed --version

echo "== data: human-written dates and their ISO form"
$heed data dates --out data/dates
head -n 5 data/dates/train.tsv

echo "== train: graphs/bahdanau_seq2seq.yaml, 2 epochs"
$heed train graphs/bahdanau_seq2seq.yaml --data data/dates/train.tsv \
  --valid data/dates/valid.tsv --epochs 2 --out dates.safetensors --plot dates.svg

echo "== evaluate on the test split (greedy decoding)"
$heed eval graphs/bahdanau_seq2seq.yaml --weights dates.safetensors --data data/dates/test.tsv

echo "== use it"
$heed infer graphs/bahdanau_seq2seq.yaml --weights dates.safetensors \
  "Tuesday, September 27, 1994" "03/16/2044" "08.02.98" "march 3 2031" "SAT 01 JAN 2000" \
  --attention attention.svg
echo
echo "== where it looks: one row per character it writes, one column per character it reads"
$heed infer graphs/bahdanau_seq2seq.yaml --weights dates.safetensors \
  "Tuesday, September 27, 1994" --attention -
echo
echo "Training curves: dates.svg; attention maps: attention.svg."
echo "Run the tests with: ctest --test-dir build --output-on-failure"
