#!/usr/bin/env bash
# The one command for the GPU machine: check torch and CUDA, run the parity checks, train the
# shape encoder for MINUTES, export into OUT (at most 6 files: train.log, metrics.json,
# samples.png, encoder/{checkpoint.json, *.safetensors, pytorch-outputs.json}).
#   bash scripts/gpu/run-on-device.sh "$OUT" 7 [extra train_shape_encoder.py options]
# Needs the pack in .gpu-pack (carry it). A second call on the same (still warm) machine can add
# --resume to continue from .gpu-runs/shape-encoder.
set -euo pipefail
out=${1:?usage: run-on-device.sh OUT MINUTES [options]}
minutes=${2:?usage: run-on-device.sh OUT MINUTES [options]}
shift 2
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
mkdir -p "$out"
"$python" - <<'PY'
import sys, torch, numpy
print(f'python {sys.version.split()[0]}, torch {torch.__version__}, numpy {numpy.__version__}, CUDA available: {torch.cuda.is_available()}', flush=True)
if torch.cuda.is_available():
    print(f'device: {torch.cuda.get_device_name(0)}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB, bf16: {torch.cuda.is_bf16_supported()}', flush=True)
else:
    sys.exit('no CUDA device: this script is for the GPU machine (run train_shape_encoder.py directly on a CPU)')
PY
test -f .gpu-pack/manifest.json || { echo "no .gpu-pack/manifest.json: carry the pack (node --import tsx scripts/gpu/export-training-pack.ts)" >&2; exit 3; }
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv,noheader || true
exec "$python" scripts/gpu/train_shape_encoder.py --pack .gpu-pack --out "$out" --minutes "$minutes" "$@"
