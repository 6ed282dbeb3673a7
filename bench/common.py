"""Shared helpers of the heed benchmark scripts.

Each script runs heed (the `heed bench --json` command) and a PyTorch
reference of the same computation in one run, alternating between them, and
prints medians and ratios. Run with Debian's python3-torch:
/usr/bin/python3 bench/NAME.py.
"""
import json
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def heed_binary():
    """The heed command of the build tree (HEED env var overrides)."""
    path = os.environ.get("HEED", os.path.join(ROOT, "build", "heed"))
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: build heed first (cmake -S . -B build && "
                         "cmake --build build)")
    return path


def heed_bench(model, dims, threads, repeat=20, extra=()):
    """Runs `heed bench --json` and returns its parsed result."""
    cmd = [heed_binary(), "bench", model, "--json", "--threads", str(threads),
           "--repeat", str(repeat)] + [f"--dim={k}={v}" for k, v in dims.items()] + list(extra)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def torch_threads(n):
    import torch
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1) if hasattr(torch, "set_num_interop_threads") else None


def time_ms(fn, repeat=20, warmup=3):
    """Median milliseconds of fn() after warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def loaded_blas():
    """The BLAS libraries mapped into this process (after torch is imported)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or "mkl" in name:
                libs.add(os.path.realpath(path))
    return sorted(libs)


def blas_kind(paths):
    """'OpenMP OpenBLAS', 'pthreads OpenBLAS', or what was found."""
    joined = " ".join(paths)
    if "openblas-openmp" in joined:
        return "OpenBLAS, OpenMP build"
    if "openblas-pthread" in joined:
        return "OpenBLAS, pthreads build (expect 3-8x slower products under OpenMP)"
    return joined or "unknown"


def alternate(rounds, heed_fn, torch_fn):
    """Runs heed and torch measurements alternately; returns per-side lists."""
    heed_runs, torch_runs = [], []
    for _ in range(rounds):
        heed_runs.append(heed_fn())
        torch_runs.append(torch_fn())
    return heed_runs, torch_runs


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
