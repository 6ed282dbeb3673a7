#!/usr/bin/python3
"""Trains the PyTorch reference of graphs/self_attention_encoder.yaml on the
language-ID files of `heed data langid` the way `heed train` trains the graph,
so the two can be compared on accuracy and training time:

  - vocabularies from the training file: ids 0 <pad>, 1 <unk>, 2 <bos>,
    3 <eos>, then the characters of column 0 (the labels of column 1) in
    UTF-8 byte order; unseen ones read as <unk>;
  - batches of 32 rows in heed's order (shuffled per epoch, windows of 32
    batches sorted by length, batches shuffled, the short last batch last),
    each padded to its own longest row;
  - Adam, lr 0.0005, gradients clipped to global norm 1.0, 10 epochs, seed 1
    (the graph's `train:`); dropout 0.1 in training.

Each epoch reports the mean training loss (of its batches) and the validation
loss and accuracy (batches of 32 rows in file order); then the test accuracy
and the training time (the epochs' training loops, and all of it with
evaluation). --out writes the weights as heed's weights file, so `heed eval`
can score them too.

    build/heed data langid --out data/langid
    /usr/bin/python3 bench/langid_reference.py --data data/langid --threads 2 --epochs 10
"""
import argparse
import json
import os
import time

import torch

import torch_graphs as tg
from common import torch_threads, write_safetensors

RESERVED = ["<pad>", "<unk>", "<bos>", "<eos>"]
MASK64 = (1 << 64) - 1


def read_tsv(path):
    """(characters, label) of each non-empty line: column 0 split into
    characters (carriage returns dropped), column 1 with its surrounding
    spaces removed (heed's `chars` and `label` tokens)."""
    rows = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.endswith("\r"):
                line = line[:-1]
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                raise SystemExit(f"{path}:{number}: the row has {len(cols)} column(s), need 2")
            label = cols[1].rstrip(" \r").lstrip(" ")
            rows.append(([c for c in cols[0] if c != "\r"], [label] if label else []))
    if not rows:
        raise SystemExit(f"{path}: the file has no rows")
    return rows


def vocabulary(tokens):
    """{token: id}: the reserved ids, then the tokens in UTF-8 byte order."""
    ordered = RESERVED + sorted(set(tokens) - set(RESERVED), key=lambda t: t.encode())
    return {t: i for i, t in enumerate(ordered)}


def encode(tokens, vocab):
    """Ids of tokens; unknown (and reserved) tokens read as <unk>."""
    return [i if (i := vocab.get(t, tg.UNK)) >= 4 else tg.UNK for t in tokens]


class Dataset:
    """A TSV file's rows as ids: texts (lists) and labels (ints)."""

    def __init__(self, path, chars, labels):
        rows = read_tsv(path)
        self.texts = [encode(text, chars) for text, _ in rows]
        self.labels = [encode(label, labels)[0] if label else tg.UNK for _, label in rows]
        # the length heed sorts by: the longest field of the row
        self.lengths = [max(len(text), len(label)) for text, label in rows]

    def __len__(self):
        return len(self.texts)

    def batch(self, rows):
        """Padded ids [n, longest row] and labels [n] of the given rows."""
        width = max(1, max(len(self.texts[r]) for r in rows))
        text = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            text[i, : len(self.texts[r])] = torch.tensor(self.texts[r], dtype=torch.long)
        return text, torch.tensor([self.labels[r] for r in rows], dtype=torch.long)


def lcg_shuffle(a, seed):
    """heed's in-place Fisher-Yates shuffle driven by a 64-bit LCG."""
    for i in range(len(a), 1, -1):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & MASK64
        j = (seed >> 33) % i
        a[i - 1], a[j] = a[j], a[i - 1]


def epoch_order(ds, batch, seed, epoch):
    """The row order of heed_dataset_shuffle (runtime/data.c) for an epoch."""
    n = len(ds)
    s = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + 1) & MASK64
    order = list(range(n))
    lcg_shuffle(order, s)
    window = batch * 32
    for w in range(0, n, window):
        order[w:w + window] = sorted(order[w:w + window], key=lambda r: (ds.lengths[r], r))
    nb = (n + batch - 1) // batch
    perm = list(range(nb))
    tail = perm[nb - 1:] if n % batch else []
    perm = perm[: nb - len(tail)]
    lcg_shuffle(perm, s ^ 0x5851F42D4C957F2D)
    return [r for b in perm + tail for r in order[b * batch:(b + 1) * batch]]


def evaluate(model, ds, batch):
    """Mean loss (weighted by batch size) and accuracy over ds, in file order."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(ds), batch):
            text, label = ds.batch(range(i, min(i + batch, len(ds))))
            logits = model(text)
            loss += torch.nn.functional.cross_entropy(logits, label, ignore_index=tg.PAD).item() \
                * len(label)
            correct += (logits.argmax(dim=1) == label).sum().item()
    return loss / len(ds), correct / len(ds)


def save_weights(model, chars, labels, path):
    """The weights as heed's weights file, with both vocabularies."""
    meta = {"heed.dims": ",".join(f"{k}={v}" for k, v in tg.GRAPHS["encoder"].fixed.items()),
            "heed.vocab.V": json.dumps(list(chars)), "heed.vocab.C": json.dumps(list(labels))}
    write_safetensors(path, tg.heed_state_dict(model), meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="directory with train.tsv, valid.tsv, test.tsv")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="FILE", help="write the curves and results to FILE")
    ap.add_argument("--out", metavar="W.safetensors", help="save the trained weights for heed")
    args = ap.parse_args()
    torch_threads(args.threads)
    train_path, valid_path, test_path = (os.path.join(args.data, f"{split}.tsv")
                                         for split in ("train", "valid", "test"))
    train_rows = read_tsv(train_path)
    chars = vocabulary(c for text, _ in train_rows for c in text)
    labels = vocabulary(label for _, lab in train_rows for label in lab)
    train, valid, test = (Dataset(p, chars, labels) for p in (train_path, valid_path, test_path))
    model = tg.build("encoder", {"V": len(chars), "C": len(labels)}, seed=args.seed)
    opt = tg.optimizer(model)
    print(f"training the PyTorch self-attention encoder on {len(train)} examples "
          f"(V={len(chars)}, C={len(labels)}), {args.epochs} epochs, {args.threads} threads, "
          f"torch {torch.__version__}")
    epochs, train_seconds, start = [], 0.0, time.perf_counter()
    for e in range(1, args.epochs + 1):
        order, t0 = epoch_order(train, args.batch, args.seed, e), time.perf_counter()
        model.train()
        losses = [tg.train_step(model, opt, train.batch(order[i:i + args.batch])).item()
                  for i in range(0, len(order), args.batch)]
        secs = time.perf_counter() - t0
        train_seconds += secs
        vloss, vacc = evaluate(model, valid, args.batch)
        epochs.append({"epoch": e, "train_loss": sum(losses) / len(losses), "valid_loss": vloss,
                       "valid_accuracy": vacc, "seconds": secs})
        print(f"epoch {e}/{args.epochs}  train loss {epochs[-1]['train_loss']:.4f}  valid loss "
              f"{vloss:.4f}  accuracy {100 * vacc:.2f}%  ({secs:.1f} s, "
              f"{len(train) / secs:.0f} ex/s)", flush=True)
    total = time.perf_counter() - start
    _, tacc = evaluate(model, test, args.batch)
    print(f"test accuracy {100 * tacc:.2f}% on {len(test)} words; training {train_seconds:.1f} s "
          f"({total:.1f} s with validation)")
    if args.out:
        save_weights(model, chars, labels, args.out)
        print(f"saved {args.out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"data": args.data, "threads": args.threads, "epochs": epochs,
                       "batch": args.batch, "seed": args.seed, "V": len(chars),
                       "C": len(labels), "test_accuracy": tacc, "train_seconds": train_seconds,
                       "total_seconds": total, "torch_version": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
