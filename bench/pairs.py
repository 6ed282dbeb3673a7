"""Two builds of heed against each other, in alternating pairs

Runs `heed bench --json` with one build, then the other, PAIRS times, and
prints for each measure the median of each build's times and the median of
the pairs' ratios (new / old: below 1 means the new build is faster) with
its quartiles. Pairs taken seconds apart see the same machine, so their
ratio keeps out most of the drift that separate runs an hour apart show;
the quartiles say how far it still reaches. No PyTorch needed.

    /usr/bin/python3 bench/pairs.py OLD_HEED NEW_HEED GRAPH [--node NAME]
        [--pairs N] [--threads N] [--repeat N] [--no-train | --no-forward]
        [--dim NAME=N ...]

GRAPH is bahdanau, luong or encoder (the shipped graphs at the dims of
docs/PERFORMANCE.md) or a model YAML (give its dims with --dim). --node adds
that node's forward and backward time from the training step's profile (or
from the forward pass's with --no-train).
"""
import argparse
import json
import os
import statistics

from common import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ2SEQ = {"B": 128, "S": 29, "T": 12, "V_src": 59, "V_tgt": 59, "E": 16, "H": 256}
SHIPPED = {
    "bahdanau": ("graphs/bahdanau_seq2seq.yaml", SEQ2SEQ),
    "luong": ("graphs/luong_dot_seq2seq.yaml", SEQ2SEQ),
    "encoder": ("graphs/self_attention_encoder.yaml", {"B": 32, "L": 64, "V": 64, "C": 10}),
}


def bench(heed, model, dims, args):
    cmd = [heed, "bench", model, "--json", "--threads", str(args.threads), "--repeat",
           str(args.repeat)] + [f"--dim={k}={v}" for k, v in dims.items()]
    if args.no_train:
        cmd.append("--no-train")
    if args.no_forward:
        cmd.append("--no-forward")
    out = json.loads(run(cmd))
    times = {}
    if not args.no_forward:
        times["forward pass"] = out["forward_ms"]
    if not args.no_train:
        times["training step"] = out["train_ms"]
    if args.node:
        rows = [p for p in out["profile"] if p["node"] == args.node]
        if not rows:
            raise SystemExit(f"no node '{args.node}' in the profile of {model}")
        times[f"{args.node} forward"] = rows[0]["forward_ms"]
        if not args.no_train:
            times[f"{args.node} backward"] = rows[0]["backward_ms"]
    return times


def quartiles(xs):
    xs = sorted(xs)
    return xs[len(xs) // 4], statistics.median(xs), xs[(3 * len(xs)) // 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", help="the heed command of the build to compare against")
    ap.add_argument("new", help="the heed command of the build measured")
    ap.add_argument("graph", help="bahdanau, luong, encoder, or a model YAML")
    ap.add_argument("--node", help="also this node's times from the profile")
    ap.add_argument("--pairs", type=int, default=10, help="alternating pairs (default 10)")
    ap.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    ap.add_argument("--repeat", type=int, default=10, help="timed runs per bench (default 10)")
    ap.add_argument("--no-train", action="store_true", help="the forward pass only")
    ap.add_argument("--no-forward", action="store_true", help="the training step only")
    ap.add_argument("--dim", action="append", default=[], metavar="NAME=N",
                    help="a dimension (repeatable; overrides a shipped graph's)")
    args = ap.parse_args()
    if args.no_train and args.no_forward:
        raise SystemExit("--no-train and --no-forward leave nothing to time")
    model, dims = args.graph, {}
    if args.graph in SHIPPED:
        path, shipped = SHIPPED[args.graph]
        model, dims = os.path.join(ROOT, path), dict(shipped)
    for d in args.dim:
        name, _, value = d.partition("=")
        dims[name] = int(value)
    runs = {"old": [], "new": []}
    for _ in range(args.pairs):
        for side in ("old", "new"):
            runs[side].append(bench(getattr(args, side), model, dims, args))
    print(f"{args.graph}: {args.pairs} alternating pairs, {args.threads} threads, "
          f"--repeat {args.repeat}; new / old")
    for measure in runs["old"][0]:
        old = [r[measure] for r in runs["old"]]
        new = [r[measure] for r in runs["new"]]
        q1, med, q3 = quartiles([n / o for o, n in zip(old, new)])
        print(f"  {measure:<22} old {statistics.median(old):8.2f} ms  new "
              f"{statistics.median(new):8.2f} ms  ratio {med:.3f}  (quartiles {q1:.3f}-{q3:.3f})")


if __name__ == "__main__":
    main()
