#!/usr/bin/python3
"""MultiHeadAttention forward and one training step (forward, backward,
Adam), heed next to PyTorch's nn.MultiheadAttention on the same shapes, in
one run: B=32, L=64, E=256, 4 heads, self-attention, the loss sum(out * r).

    /usr/bin/python3 bench/attention.py [--threads N]
"""
import argparse
import os
import statistics

from common import require_torch

require_torch()
import torch  # noqa: E402

from common import (ROOT, alternate, check_blas, heed_bench, table, time_ms,  # noqa: E402
                    torch_threads)

B, L, E, HEADS = 32, 64, 256, 4


def torch_fns():
    mod = torch.nn.MultiheadAttention(E, HEADS, batch_first=True)
    opt = torch.optim.Adam(mod.parameters(), lr=1e-3)
    x, r = torch.randn(B, L, E), torch.randn(B, L, E)

    def step():
        opt.zero_grad()
        out, _ = mod(x, x, x, need_weights=False)
        (out * r).sum().backward()
        opt.step()

    def forward():
        with torch.no_grad():
            mod(x, x, x, need_weights=False)

    return step, forward


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--any-blas", action="store_true",
                    help="measure even when a side is not on the OpenMP build of OpenBLAS")
    args = ap.parse_args()
    torch_threads(args.threads)
    model = os.path.join(ROOT, "bench", "models", "mha.yaml")
    torch_line = check_blas(heed_bench(model, {"B": B, "L": L}, args.threads, 1,
                                       ["--no-train", "--no-forward", "--warmup", "0"])["blas"],
                            args.any_blas)
    step, forward = torch_fns()
    h, p = alternate(args.rounds, lambda: heed_bench(model, {"B": B, "L": L}, args.threads),
                     lambda: (time_ms(step), time_ms(forward)))
    ht = statistics.median(r["train_ms"] for r in h)
    hf = statistics.median(r["forward_ms"] for r in h)
    pt = statistics.median(r[0] for r in p)
    pf = statistics.median(r[1] for r in p)
    print(f"B={B} L={L} E={E} heads={HEADS}, {args.threads} threads, medians of {args.rounds} "
          "alternating rounds")
    blas = h[0]["blas"]
    print(f"heed BLAS:    {blas['config']} ({blas['threading']}), sgemm {blas['sgemm_gflops']:.1f} GFLOP/s")
    print(f"PyTorch BLAS: {torch_line}, torch {torch.__version__}")
    table([["MultiHeadAttention", "training step", f"{ht:.2f}", f"{pt:.2f}", f"{ht / pt:.2f}x"],
           ["MultiHeadAttention", "forward", f"{hf:.2f}", f"{pf:.2f}", f"{hf / pf:.2f}x"]],
          ["op", "measure", "heed ms", "PyTorch ms", "heed/PyTorch"])


if __name__ == "__main__":
    main()
