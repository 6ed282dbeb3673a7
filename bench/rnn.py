#!/usr/bin/python3
"""One training step (forward + backward) of a GRU and an LSTM layer, heed next
to PyTorch's nn.GRU / nn.LSTM on the same shapes, in one run.

Shapes: B=128, T=29, In=16, H=256; the loss sums out * r so a gradient
reaches every output. Both sides run with the same thread count (default 2),
alternately, 5 rounds of 20 timed steps each; medians are reported.

    /usr/bin/python3 bench/rnn.py [--threads N]
"""
import argparse
import os
import statistics

from common import require_torch

require_torch()
import torch  # noqa: E402

from common import (ROOT, alternate, check_blas, heed_bench, table, time_ms,  # noqa: E402
                    torch_threads)

B, T, IN, H = 128, 29, 16, 256


def torch_step(cell):
    mod = (torch.nn.GRU if cell == "GRU" else torch.nn.LSTM)(IN, H, batch_first=True)
    opt = torch.optim.Adam(mod.parameters(), lr=1e-3)
    x, r = torch.randn(B, T, IN), torch.randn(B, T, H)

    def step():
        opt.zero_grad()
        out, _ = mod(x)
        (out * r).sum().backward()
        opt.step()

    def forward():
        with torch.no_grad():
            mod(x)

    return step, forward


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--any-blas", action="store_true",
                    help="measure even when a side is not on the OpenMP build of OpenBLAS")
    args = ap.parse_args()
    torch_threads(args.threads)
    rows = []
    blas_heed = heed_bench(os.path.join(ROOT, "bench", "models", "gru.yaml"), {"B": B, "T": T},
                           args.threads, 1, ["--no-train", "--no-forward", "--warmup", "0"])["blas"]
    torch_line = check_blas(blas_heed, args.any_blas)
    for cell in ("GRU", "LSTM"):
        model = os.path.join(ROOT, "bench", "models", cell.lower() + ".yaml")
        step, forward = torch_step(cell)
        dims = {"B": B, "T": T}
        h, p = alternate(args.rounds, lambda: heed_bench(model, dims, args.threads),
                         lambda: (time_ms(step), time_ms(forward)))
        blas_heed = h[0]["blas"]
        ht = statistics.median(r["train_ms"] for r in h)
        hf = statistics.median(r["forward_ms"] for r in h)
        pt = statistics.median(r[0] for r in p)
        pf = statistics.median(r[1] for r in p)
        rows.append([cell, "training step", f"{ht:.2f}", f"{pt:.2f}", f"{ht / pt:.2f}x"])
        rows.append([cell, "forward", f"{hf:.2f}", f"{pf:.2f}", f"{hf / pf:.2f}x"])
    print(f"B={B} T={T} In={IN} H={H}, {args.threads} threads, medians of {args.rounds} "
          "alternating rounds")
    print(f"heed BLAS:    {blas_heed['config']} ({blas_heed['threading']}), "
          f"sgemm {blas_heed['sgemm_gflops']:.1f} GFLOP/s")
    print(f"PyTorch BLAS: {torch_line}, "
          f"torch {torch.__version__}")
    table(rows, ["cell", "measure", "heed ms", "PyTorch ms", "heed/PyTorch"])


if __name__ == "__main__":
    main()
