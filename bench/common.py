"""Shared helpers of the heed benchmark scripts.

Each script runs heed (the `heed bench --json` command) and a PyTorch
reference of the same computation in one run, alternating between them, and
prints medians and ratios. Run with Debian's python3-torch:
/usr/bin/python3 bench/NAME.py.
"""
import ctypes
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def heed_binary():
    """The heed command of the build tree (HEED env var overrides)."""
    path = os.environ.get("HEED", os.path.join(ROOT, "build", "heed"))
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: build heed first (cmake -S . -B build && "
                         "cmake --build build)")
    return path


# Linux keeps a process's peak RSS (ru_maxrss) across execve, and a child's peak
# starts at the size of the process it was forked (or vforked) from: a command
# started straight from a benchmark that has imported torch reports at least
# the benchmark's few hundred MiB. A small Python process in between, forking
# the command, leaves it its own peak.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def run(cmd, fresh=False):
    """Runs cmd and returns its standard output; fresh: through a small
    launcher process, so that the command's own peak RSS is what it reports.
    A failure stops the script with the command's own message."""
    shown = " ".join(str(c) for c in cmd)
    if fresh:
        cmd = [sys.executable, "-c", _LAUNCHER] + list(cmd)
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit(f"{cmd[0]} not found")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{shown} failed (exit {e.returncode}):\n{e.stderr.strip()}")


def require_torch():
    """Stops with what to install when this Python has no PyTorch."""
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit("PyTorch is not installed for this Python: apt-get install "
                         "python3-torch python3-numpy, then run with /usr/bin/python3")


def heed_bench(model, dims, threads, repeat=20, extra=(), fresh=False):
    """Runs `heed bench --json` and returns its parsed result (fresh: see run)."""
    cmd = [heed_binary(), "bench", model, "--json", "--threads", str(threads),
           "--repeat", str(repeat)] + [f"--dim={k}={v}" for k, v in dims.items()] + list(extra)
    return json.loads(run(cmd, fresh))


def heed_param_counts(model, dims):
    """Parameters per node of `model` at `dims`, from `heed inspect --json`."""
    cmd = [heed_binary(), "inspect", model, "--json"] + [f"--dim={k}={v}" for k, v in dims.items()]
    return {n["name"]: n["params"] for n in json.loads(run(cmd))["nodes"] if n["params"]}


def peak_rss_kb():
    """This process's peak resident set size in KiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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


def _maps():
    """This process's file mappings: (start, end, path)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/"):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                out.append((start, end, parts[5]))
    return out


def loaded_blas():
    """The BLAS libraries mapped into this process (after torch is imported)."""
    return sorted({os.path.realpath(p) for _, _, p in _maps()
                   if "blas" in os.path.basename(p) or "mkl" in os.path.basename(p)})


def torch_sgemm_library():
    """The library whose sgemm_ PyTorch's CPU library calls: looked up
    through libtorch_cpu's own handle (its dependencies, in the order the
    dynamic linker binds them) and found by address in this process's
    mappings. Another BLAS may be mapped beside it (libtorch links libblas.so.3
    and libopenblas.so.0) without doing any of the work. None when unknown."""
    maps = _maps()
    lib = next((p for _, _, p in maps if os.path.basename(p).startswith("libtorch_cpu")), None)
    if lib is None:
        return None
    try:
        addr = ctypes.cast(ctypes.CDLL(lib).sgemm_, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None
    return next((os.path.realpath(p) for lo, hi, p in maps if lo <= addr < hi), None)


def openblas_core(paths):
    """The core type (kernel set) an OpenBLAS chose, asked of the library
    itself; None when none of paths is an OpenBLAS that answers."""
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return fn().decode()
    return None


def blas_env():
    """The OpenBLAS settings in the environment, which both sides inherit:
    OPENBLAS_CORETYPE holds both to one kernel set."""
    held = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
            if k in os.environ]
    return ", ".join(held) if held else "no OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE set"


def blas_kind(path):
    """What the BLAS library at path is ('OpenBLAS, OpenMP build, core Zen'),
    and whether it is the OpenMP build of OpenBLAS the comparison needs."""
    if path is None:
        return "unknown (no sgemm_ found behind libtorch_cpu)", False
    core = openblas_core([path] + [os.path.join(os.path.dirname(path), f)
                                   for f in sorted(os.listdir(os.path.dirname(path)))
                                   if f.startswith("libopenblas")])
    core = f", core {core}" if core else ""
    if "openblas-openmp" in path:
        return f"OpenBLAS, OpenMP build{core}", True
    if "openblas-pthread" in path:
        return f"OpenBLAS, pthreads build{core} (expect 3-8x slower products under OpenMP)", False
    if "mkl" in os.path.basename(path):
        return "MKL", False
    if os.path.basename(os.path.dirname(path)) == "blas":
        return "the reference BLAS (Netlib), not OpenBLAS", False
    return path, False


def check_blas(heed_blas, any_blas):
    """Issue 7 compares heed and PyTorch on the OpenMP build of OpenBLAS, the
    same library on both sides: says which BLAS each side uses, and stops
    (unless any_blas) when either is another. Returns PyTorch's line."""
    path = torch_sgemm_library()
    kind, torch_ok = blas_kind(path)
    torch_line = f"{kind} [{path}]"
    heed_ok = "OpenBLAS" in heed_blas["config"] and heed_blas["threading"] == "OpenMP"
    if heed_ok and torch_ok:
        return torch_line
    why = (f"heed's BLAS is {heed_blas['config']} ({heed_blas['threading']} threading); "
           f"PyTorch's sgemm is {torch_line}. The comparison wants the OpenMP build of "
           "OpenBLAS on both sides (apt-get install libopenblas0-openmp, and "
           "update-alternatives for libblas.so.3 if another is chosen)")
    if not any_blas:
        raise SystemExit(why + "; --any-blas measures anyway")
    print(f"WARNING: {why}", file=sys.stderr)
    return torch_line + "  (WARNING: not the OpenMP build of OpenBLAS on both sides)"


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


# safetensors: an 8-byte little-endian header length, a JSON header naming each
# tensor's dtype, shape and byte range, then the raw little-endian data.
_ST_DTYPES = {"F32": "float32", "I32": "int32", "I64": "int64"}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: torch tensor} (float32, int32 or int64) and string metadata."""
    names = {v: k for k, v in _ST_DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": names[str(t.dtype).replace("torch.", "")],
                        "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """Reads a safetensors file: ({name: torch tensor}, metadata dict)."""
    import numpy
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, h in header.items():
        begin, end = h["data_offsets"]
        array = numpy.frombuffer(raw[8 + n + begin:8 + n + end], dtype=_ST_DTYPES[h["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(h["shape"]).copy())
    return tensors, metadata
