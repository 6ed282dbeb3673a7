#!/usr/bin/python3
"""heed's three shipped graphs next to their PyTorch references
(bench/torch_graphs.py), in one run, alternating, with the targets of issue 7:

  - one training step (forward, loss, backward, clipping, Adam) of each graph;
  - the forward pass (inference, with the loss) of each graph;
  - greedy decoding with the Bahdanau graph, batch 1 and 128, 11 steps;
  - the peak resident memory of a training process (each side's training
    loop in a fresh process);
  - heed's training step on N threads against 1 thread, and next to it the
    machine's own: the 512^3 product `heed bench` times (its "sgemm" line)
    on N threads against 1;
  - heed's compile time (YAML to a runnable plan, training mode).

Shapes: seq2seq B=128, S=29 source characters, T=12 decoder input positions
(<bos>, 10 characters, <eos>: PyTorch teacher-forces over the same 12
positions), V_src=V_tgt=59, E=16, H=256; encoder B=32, L=64, V=64, C=10,
E=256, 4 heads, F=1024, 2 layers. Inputs are random ids, every row full
length, on both sides. Each round runs heed (`heed bench --json`), then
PyTorch; medians of the rounds' medians are reported.

    /usr/bin/python3 bench/graphs.py [--threads N] [--rounds N] [--repeat N]
                                     [--only NAME] [--json FILE]
"""
import argparse
import json
import os
import statistics
import sys

from common import require_torch

require_torch()
import torch  # noqa: E402

import torch_graphs as tg  # noqa: E402
from common import (alternate, blas_env, check_blas, heed_bench, loaded_blas, peak_rss_kb, run,
                    table, time_ms, torch_threads)

SEQ2SEQ = {"B": 128, "S": 29, "T": 12, "V_src": 59, "V_tgt": 59}
DIMS = {"bahdanau": SEQ2SEQ, "luong": SEQ2SEQ, "encoder": {"B": 32, "L": 64, "V": 64, "C": 10}}
# every compared size is given to heed explicitly: a YAML's defaults may differ
# (the Luong graph trains with E=32; the comparison is at E=16)
DIMS = {name: {**dims, **tg.GRAPHS[name].fixed} for name, dims in DIMS.items()}
DECODE = {"bahdanau": (1, 128)}  # graphs timed decoding, and their batches
DECODE_STEPS = 11
WARMUP = 3  # heed bench's default, used on both sides

# issue 7: heed/PyTorch time (or memory) at most this; threads: speedup at least
TARGETS = {"train": {"bahdanau": 0.5, "luong": 0.67, "encoder": 0.85}, "forward": 0.67,
           "decode": {1: 0.33, 128: 0.67}, "rss": 0.25, "threads": 1.7, "compile_ms": 5.0}


def heed_runs(name, threads, repeat):
    """One round of heed measurements of graph `name`."""
    model, dims = tg.yaml_path(name), DIMS[name]
    out = {"main": heed_bench(model, dims, threads, repeat),
           "one_thread": heed_bench(model, dims, 1, repeat, ["--no-forward"])}
    for b in DECODE.get(name, ()):
        out[f"decode_{b}"] = heed_bench(model, dims, threads, repeat,
                                        ["--no-train", "--no-forward", "--decode",
                                         f"{b}:{DECODE_STEPS}"])
    return out


def torch_runs(name, repeat):
    """A function running one round of PyTorch measurements of graph `name`."""
    dims = DIMS[name]
    model = tg.build(name, dims)
    opt = tg.optimizer(model)
    inputs = tg.random_inputs(name, dims)
    sources = {b: tg.random_inputs(name, {**dims, "B": b})[0] for b in DECODE.get(name, ())}

    def step():
        tg.train_step(model, opt, inputs)

    def forward():
        with torch.no_grad():
            model.loss(*inputs)

    def run():
        model.train()
        out = {"train_ms": time_ms(step, repeat, WARMUP)}
        model.eval()
        out["forward_ms"] = time_ms(forward, repeat, WARMUP)
        for b, src in sources.items():
            with torch.no_grad():
                out[f"decode_{b}_ms"] = time_ms(lambda: model.greedy(src, DECODE_STEPS), repeat,
                                                WARMUP)
        return out

    return run


def torch_training_rss(name, threads, steps):
    """Runs graph `name`'s PyTorch training loop for `steps` steps in this
    process and prints its peak RSS as JSON (what --peak-rss does)."""
    torch_threads(threads)
    dims = DIMS[name]
    model = tg.build(name, dims)
    opt = tg.optimizer(model)
    inputs = tg.random_inputs(name, dims)
    for _ in range(steps):
        tg.train_step(model, opt, inputs)
    print(json.dumps({"graph": name, "steps": steps, "peak_rss_kb": peak_rss_kb()}))


def peak_rss(name, threads, repeat):
    """Peak RSS (KiB) of a fresh training process on each side: `heed bench
    --no-forward` (warm-up and `repeat` timed steps) and this script with
    --peak-rss running as many PyTorch steps."""
    heed = heed_bench(tg.yaml_path(name), DIMS[name], threads, repeat, ["--no-forward"],
                      fresh=True)
    cmd = [sys.executable, os.path.abspath(__file__), "--peak-rss", name, "--threads",
           str(threads), "--repeat", str(repeat)]
    return heed["peak_rss_kb"], json.loads(run(cmd, fresh=True))["peak_rss_kb"]


def ratio_row(name, measure, heed_ms, torch_ms, target):
    r = heed_ms / torch_ms
    return {"graph": name, "measure": measure, "heed": f"{heed_ms:.2f} ms",
            "versus": f"{torch_ms:.2f} ms (PyTorch)", "ratio": f"{r:.2f}x",
            "target": f"<= {target}x", "met": r <= target,
            "raw": {"heed_ms": heed_ms, "torch_ms": torch_ms, "ratio": r}}


def sgemm_scaling_row(name, heed, threads):
    """The machine's own scaling, as a reference for the row above: `heed
    bench` times a 512^3 product before its runs (OpenBLAS's sgemm, or
    heed's own AVX-512 product where heed uses it), on N threads in the main
    run and on one in the one-thread run of the same round. A step
    made of BLAS products scales about as well as they do; on a shared
    machine that changes from minute to minute. Median of the rounds'
    ratios, each pairing two measurements made seconds apart."""
    many = [r["main"]["blas"]["sgemm_gflops"] for r in heed]
    one = [r["one_thread"]["blas"]["sgemm_gflops"] for r in heed]
    s = statistics.median(m / o for m, o in zip(many, one))
    return {"graph": name, "measure": f"sgemm 512^3, {threads} vs 1 thread (reference)",
            "heed": f"{statistics.median(many):.1f} GFLOP/s",
            "versus": f"{statistics.median(one):.1f} GFLOP/s (1 thread)",
            "ratio": f"{s:.2f}x faster", "target": "", "met": None,
            "raw": {"gflops": many, "gflops_1_thread": one, "speedup": s}}


def rows_of(name, heed, torch_, rss, threads):
    """The table's rows for graph `name` from its rounds."""
    def hm(key, part="main"):
        return statistics.median(r[part][key] for r in heed)

    def pm(key):
        return statistics.median(r[key] for r in torch_)

    rows = [ratio_row(name, "training step", hm("train_ms"), pm("train_ms"),
                      TARGETS["train"][name]),
            ratio_row(name, "forward", hm("forward_ms"), pm("forward_ms"), TARGETS["forward"])]
    for b in DECODE.get(name, ()):
        rows.append(ratio_row(name, f"greedy decoding, batch {b}, {DECODE_STEPS} steps",
                              hm("decode_ms", f"decode_{b}"), pm(f"decode_{b}_ms"),
                              TARGETS["decode"][b]))
    h_kb, p_kb = rss
    rows.append({"graph": name, "measure": "peak RSS, training process",
                 "heed": f"{h_kb / 1024:.1f} MiB", "versus": f"{p_kb / 1024:.1f} MiB (PyTorch)",
                 "ratio": f"{h_kb / p_kb:.2f}x", "target": f"<= {TARGETS['rss']}x",
                 "met": h_kb / p_kb <= TARGETS["rss"],
                 "raw": {"heed_kb": h_kb, "torch_kb": p_kb, "ratio": h_kb / p_kb}})
    one, many = hm("train_ms", "one_thread"), hm("train_ms")
    rows.append({"graph": name, "measure": f"training step, {threads} vs 1 thread",
                 "heed": f"{many:.2f} ms", "versus": f"{one:.2f} ms (heed, 1 thread)",
                 "ratio": f"{one / many:.2f}x faster", "target": f">= {TARGETS['threads']}x",
                 "met": one / many >= TARGETS["threads"],
                 "raw": {"heed_ms": many, "heed_1_thread_ms": one, "speedup": one / many}})
    rows.append(sgemm_scaling_row(name, heed, threads))
    c = hm("compile_ms")
    rows.append({"graph": name, "measure": "compile, YAML to plan", "heed": f"{c:.2f} ms",
                 "versus": "", "ratio": "", "target": f"<= {TARGETS['compile_ms']:g} ms",
                 "met": c <= TARGETS["compile_ms"], "raw": {"heed_ms": c}})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="threads of both sides (default 2)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--repeat", type=int, default=20,
                    help="timed runs per measurement and round (default 20)")
    ap.add_argument("--only", choices=list(DIMS), help="one graph")
    ap.add_argument("--json", metavar="FILE", help="write every raw number to FILE")
    ap.add_argument("--any-blas", action="store_true",
                    help="measure even when a side is not on the OpenMP build of OpenBLAS")
    ap.add_argument("--peak-rss", metavar="NAME", choices=list(DIMS),
                    help="(used by this script) run NAME's PyTorch training loop for "
                         "warm-up + repeat steps and print the process's peak RSS")
    args = ap.parse_args()
    if args.peak_rss:
        return torch_training_rss(args.peak_rss, args.threads, WARMUP + args.repeat)
    torch_threads(args.threads)
    names = [args.only] if args.only else list(DIMS)
    # which BLAS each side uses, checked before anything is measured
    heed_blas = heed_bench(tg.yaml_path(names[0]), DIMS[names[0]], args.threads, 1,
                           ["--no-train", "--no-forward", "--warmup", "0"])["blas"]
    torch_line = check_blas(heed_blas, args.any_blas)
    rows, raw = [], {}
    for name in names:
        params = tg.check_params(name, DIMS[name])
        heed, torch_ = alternate(args.rounds, lambda: heed_runs(name, args.threads, args.repeat),
                                 torch_runs(name, args.repeat))
        rss = peak_rss(name, args.threads, args.repeat)
        heed_blas = heed[0]["main"]["blas"]
        rows += rows_of(name, heed, torch_, rss, args.threads)
        raw[name] = {"dims": DIMS[name], "params": params, "heed": heed, "torch": torch_,
                     "peak_rss_kb": {"heed": rss[0], "torch": rss[1]}}
    torch_blas = loaded_blas()
    print(f"{args.threads} threads, medians of {args.rounds} alternating rounds of {args.repeat} "
          f"timed runs; random full-length rows")
    for name in names:
        dims = " ".join(f"{k}={v}" for k, v in DIMS[name].items())
        print(f"{name}: {dims}")
    print("(T: decoder input positions, <bos> + 10 characters + <eos>, teacher-forced on both "
          "sides)")
    print(f"environment:  {blas_env()}")
    print(f"heed BLAS:    {heed_blas['config']} ({heed_blas['threading']}, core "
          f"{heed_blas['core']}); large products: {heed_blas.get('products', 'OpenBLAS')}, "
          f"{heed_blas['sgemm_gflops']:.1f} GFLOP/s at 512^3")
    print(f"PyTorch BLAS: {torch_line}, torch {torch.__version__}")
    table([[r["graph"], r["measure"], r["heed"], r["versus"], r["ratio"], r["target"],
            "" if r["met"] is None else "yes" if r["met"] else "NO"] for r in rows],
          ["graph", "measure", "heed", "compared with", "ratio", "target (issue 7)", "met"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rounds": args.rounds, "repeat": args.repeat,
                       "blas": {"heed": heed_blas, "torch": torch_blas, "torch_sgemm": torch_line},
                       "torch_version": torch.__version__, "graphs": raw,
                       "rows": [{k: r[k] for k in ("graph", "measure", "target", "met", "raw")}
                                for r in rows]}, f, indent=1)


if __name__ == "__main__":
    main()
