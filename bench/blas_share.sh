#!/usr/bin/env bash
# blas_share.sh - where a training step of each shipped graph spends its time,
# by shared object: OpenBLAS, heed's packed per-step products (its own matrix
# kernel, ops/kernels/packed.c, and the packing, which the shallow product
# shares), heed's AVX-512 product for machines whose OpenBLAS runs narrower
# kernels (ops/kernels/gemm512.c), heed's AVX2 tiles for shallow and thin
# products (ops/kernels/shallow.c), the rest of heed's code (kernels,
# executor), the OpenMP runtime, libc/libm and the kernel. Samples `heed
# bench --no-forward` with perf (Debian's linux-perf) at the dims of
# docs/PERFORMANCE.md; the repeats
# are many so that the benchmark's start-up (its own sgemm calibration, the
# compile) is a small part of the samples.
#
#   bash bench/blas_share.sh [THREADS] [REPEAT]      (defaults: 2, 200)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
heed="${HEED:-$root/build/heed}"
[ -x "$heed" ] || { echo "blas_share.sh: $heed not found: build heed first, or set HEED" >&2; exit 1; }
threads="${1:-2}"
repeat="${2:-200}"
command -v perf > /dev/null || { echo "blas_share.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

seq2seq="--dim B=128 --dim S=29 --dim T=12 --dim V_src=59 --dim V_tgt=59 --dim E=16 --dim H=256"
encoder="--dim B=32 --dim L=64 --dim V=64 --dim C=10"
printf '%-24s %8s %8s %8s %8s %8s %8s %8s %8s\n' graph OpenBLAS packed gemm512 shallow heed \
  OpenMP libc/m kernel
for g in bahdanau_seq2seq luong_dot_seq2seq self_attention_encoder; do
  dims=$seq2seq
  [ "$g" = self_attention_encoder ] && dims=$encoder
  # shellcheck disable=SC2086
  perf record -q -o "$tmp/$g.data" -F 1999 -- "$heed" bench "$root/graphs/$g.yaml" $dims \
    --threads "$threads" --repeat "$repeat" --no-forward > "$tmp/out" 2>&1 ||
    { echo "blas_share.sh: perf record of $heed bench $g failed:" >&2; cat "$tmp/out" >&2; exit 1; }
  perf report -i "$tmp/$g.data" --sort dso,sym --stdio 2> /dev/null |
    awk -v g="$g" '
      /^ *[0-9.]+%/ {
        p = $1; sub(/%/, "", p); d = $2; sym = $4
        if (d ~ /openblas/) s["blas"] += p
        else if (d == "heed" && sym ~ /^(block_avx512|block_portable|heed_pack|pack_panel|pack_trans)/) s["packed"] += p
        else if (d == "heed" && sym ~ /(_512|^heed_gemm512)/) s["gemm512"] += p
        else if (d == "heed" && sym ~ /^(rows_avx2|run_rows)/) s["shallow"] += p
        else if (d == "heed") s["heed"] += p
        else if (d ~ /gomp/) s["omp"] += p
        else if (d ~ /libc|libm/) s["libc"] += p
        else if (d ~ /kernel/) s["kernel"] += p
      }
      END { printf "%-24s %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%%\n", g,
            s["blas"], s["packed"], s["gemm512"], s["shallow"], s["heed"], s["omp"], s["libc"],
            s["kernel"] }'
done
