#!/usr/bin/env bash
# Runs a fastgo workload and its reference (../shared/bench/reference.sh) back to back,
# alternating, REPS times each, and prints the medians of the chosen RESULT fields and
# their ratios: the protocol of docs/performance.md (these machines are noisy; one run means little).
#
#   scripts/bench-vs-reference.sh sgemm [REPS] [THREADS]   # W1 at n=256,512,1024 vs OpenBLAS
#   scripts/bench-vs-reference.sh w2w3  [REPS]             # W2 + W3 vs PyTorch (2 threads)
#   scripts/bench-vs-reference.sh w4    [REPS]             # W4 vs PyTorch (2 threads)
#   scripts/bench-vs-reference.sh w5    [REPS]             # W5 vs PyTorch (2 threads; needs python3-torchvision)
#
# TIER=avx2 (or avx512, generic) runs fastgo with FASTGO_CPU=$TIER; with avx2 the references
# are held to AVX2 too: OpenBLAS's Haswell kernels, PyTorch's ATen and oneDNN at AVX2.
#
# Needs: apt-get install -y python3-torch python3-numpy libopenblas-dev dataset-fashion-mnist gcc python3
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: bench-vs-reference.sh sgemm|w2w3|w4|w5 [REPS] [THREADS]}
reps=${2:-3}
threads=${3:-2}
ref=../shared/bench/reference.sh
out=$(mktemp -d)
bin=$out/fastgo
go build -o "$bin" ./cmd/fastgo
tier=${TIER:-}
if [ -n "$tier" ]; then export FASTGO_CPU=$tier; fi
if [ "$tier" = avx2 ]; then
  export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell
  # reference.sh picks OpenBLAS's AVX-512 kernels where the CPU has them: run the W1 program here.
  gcc -O2 ../shared/bench/sgemm_openblas.c -o "$out/sgemm_openblas" -lopenblas
fi
for i in $(seq "$reps"); do
  case $what in
    sgemm)
      "$bin" bench sgemm -n 256,512,1024 -threads "$threads" | grep '^RESULT' >>"$out/fastgo.txt"
      if [ "$tier" = avx2 ]; then OPENBLAS_NUM_THREADS=$threads "$out/sgemm_openblas" 7 256 512 1024
      else bash "$ref" sgemm "$threads"; fi | awk 'NR>1 && $1 ~ /^[0-9]+$/ {printf "RESULT {\"n\":%s,\"gflops_median\":%s}\n", $1, $4}' >>"$out/ref.txt" ;;
    w2w3)
      # W3 attacks the weights PyTorch trained, so both attack the same model.
      bash "$ref" w2w3 --threads 2 --save "$out/ref_w2" | grep '^RESULT' >>"$out/ref.txt"
      "$bin" bench w2 -threads 2 | grep '^RESULT' >>"$out/fastgo_w2.txt"
      "$bin" bench w3 -threads 2 -weights "$out/ref_w2.safetensors" | grep '^RESULT' >>"$out/fastgo_w3.txt" ;;
    w4)
      "$bin" bench w4 -threads 2 | grep '^RESULT' >>"$out/fastgo.txt"
      bash "$ref" w4 --threads 2 | grep '^RESULT' >>"$out/ref.txt" ;;
    w5)
      "$bin" bench w5 -threads 2 | grep '^RESULT' >>"$out/fastgo.txt"
      bash "$ref" w5 --threads 2 | grep '^RESULT' >>"$out/ref.txt" ;;
    *) echo "unknown workload $what" >&2; exit 2 ;;
  esac
done
python3 - "$what" "$out" <<'PY'
import json, statistics, sys, glob, os
what, out = sys.argv[1], sys.argv[2]
def load(name):
    rows = []
    p = os.path.join(out, name)
    if os.path.exists(p):
        for line in open(p):
            rows.append(json.loads(line.split(' ', 1)[1]))
    return rows
def med(rows, key, where=lambda r: True):
    v = [r[key] for r in rows if key in r and where(r)]
    return statistics.median(v) if v else float('nan')
ref = load('ref.txt')
if what == 'sgemm':
    fg = load('fastgo.txt')
    for n in (256, 512, 1024):
        a, b = med(fg, 'gflops_median', lambda r: r['n'] == n), med(ref, 'gflops_median', lambda r: r['n'] == n)
        print(f"sgemm n={n}: fastgo {a:.1f} GFLOP/s, OpenBLAS {b:.1f}, ratio {a/b:.2f}")
elif what == 'w2w3':
    w2, w3 = load('fastgo_w2.txt'), load('fastgo_w3.txt')
    for k, rk in (('train_img_per_s', 'train_img_per_s'), ('test_acc', 'test_acc'), ('peak_rss_mib', 'peak_rss_mib_after_w2')):
        a, b = med(w2, k), med(ref, rk)
        print(f"W2 {k}: fastgo {a:.4g}, PyTorch {b:.4g}, ratio {a/b:.2f}")
    for k in ('pgd_img_per_s', 'pgd_clean_acc', 'pgd_robust_acc'):
        a, b = med(w3, k), med(ref, k)
        print(f"W3 {k}: fastgo {a:.4g}, PyTorch {b:.4g}, ratio {a/b:.2f}")
else:
    fg = load('fastgo.txt')
    keys = ('train_img_per_s', 'eval_img_per_s', 'peak_rss_mib')
    if what == 'w5':
        keys = ('train_img_per_s', 'frozen_img_per_s', 'eval_img_per_s', 'peak_rss_mib')
    for k in keys:
        a, b = med(fg, k), med(ref, k)
        print(f"{what.upper()} {k}: fastgo {a:.4g}, PyTorch {b:.4g}, ratio {a/b:.2f}")
print(f"({len(ref)} reference runs, tier {os.environ.get('FASTGO_CPU') or 'best'}; raw RESULT lines in {out})")
PY
