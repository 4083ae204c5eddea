#!/usr/bin/env bash
# GAR training on the GPU machine: parity checks first (stop on a mismatch), then
# scripts/gpu/train_gar.py for MINUTES of training, then the outputs into OUT.
#
#   scripts/gpu/run-gar-on-device.sh OUT MINUTES [train_gar.py options, which win over the defaults]
#
# Reads the pack (GAR_PACK, default .gpu-pack-gar; made on the dev machine, see scripts/gpu/GAR.md):
#   crops-<R>.json/.bin, normal-maps-<R>.json/.bin, parity-<preset>.safetensors,
#   normals-<R>/ (a facegar train-normals checkpoint: checkpoint.json + its .safetensors; optional),
#   judges/ (export-judges.ts: FaceMesh, FaceRes, judges.json, parity-judges.safetensors; optional).
# Environment: GAR_PRESET (small), GAR_BATCH (64), GAR_INIT (models/gar-small for small; "none" = fresh),
#   PYTHON (python3). Consistency losses on by default when their judges are in the pack:
#   normal 1, landmark 0.5 every 4 steps, identity 0.5 every 4 steps.
# Writes at most 8 files: OUT/gar/{checkpoint.json, gar-<R>px-step<N>.safetensors} (the inference GAR,
#   G_ema only: `facegar sample|reconstruct --gar OUT/gar`), OUT/run/{checkpoint.json,
#   checkpoint-<N>.safetensors} (the full training state in facegar's format, for --resume here or in
#   `facegar train-gar`; left out when over 16 MB), OUT/samples.png, OUT/real-crops.png,
#   OUT/losses.jsonl, OUT/train.log. GAR_OUTPUTS=tar: two files instead (OUT/gar-run.tar with all of that
#   but the full state's weights, and OUT/gar-state-<step>.safetensors), for a call whose OUT also holds
#   another task's files. Wall time ≈ MINUTES + ~1 min (CUDA start, decoding, parity, saving).
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."
if [ $# -lt 2 ]; then echo "usage: $0 OUT MINUTES [train_gar.py options]" >&2; exit 2; fi
OUT=$1 MINUTES=$2
shift 2
PACK=${GAR_PACK:-.gpu-pack-gar}
PRESET=${GAR_PRESET:-small}
BATCH=${GAR_BATCH:-64}
PY=${PYTHON:-python3}
RUN=${GAR_RUN_DIR:-/tmp/gar-run}
mkdir -p "$OUT" "$RUN"
LOG=$OUT/train.log
[ "${GAR_OUTPUTS:-files}" = tar ] && LOG=$RUN/train.log  # in the tar, so that OUT holds two files
exec > >(tee -a "$LOG") 2>&1

R=$($PY -c "import sys; sys.path.insert(0, 'scripts/gpu'); from gar_torch import GAR_PRESETS; print(GAR_PRESETS['$PRESET']['resolution'])") || exit 2
INIT=${GAR_INIT:-}
if [ -z "$INIT" ] && [ "$PRESET" = small ]; then INIT=models/gar-small; fi

collect() {
  # Staging: the run's keepers under their OUT names, then either copied as they are or put in one tar.
  local stage=$RUN/stage
  rm -rf "$stage"; mkdir -p "$stage/gar" "$stage/run"
  [ -f "$RUN/export/checkpoint.json" ] && cp "$RUN/export/checkpoint.json" "$RUN"/export/gar-*.safetensors "$stage/gar/" 2>/dev/null
  local weights=""
  if [ -f "$RUN/checkpoint.json" ]; then
    weights=$($PY -c "import json; print(json.load(open('$RUN/checkpoint.json'))['weightsPath'])")
    if [ "$(stat -c %s "$RUN/$weights")" -le 16000000 ]; then cp "$RUN/checkpoint.json" "$RUN/$weights" "$stage/run/"
    else echo "full checkpoint $weights is over 16 MB: not copied (the inference GAR is in gar/)"; weights=""; fi
  fi
  local latest
  latest=$(ls "$RUN"/samples-*.png 2>/dev/null | tail -1)
  [ -n "$latest" ] && cp "$latest" "$stage/samples.png"
  [ -f "$RUN/real-crops.png" ] && cp "$RUN/real-crops.png" "$stage/"
  [ -f "$RUN/losses.jsonl" ] && cp "$RUN/losses.jsonl" "$stage/"
  rmdir "$stage/gar" "$stage/run" 2>/dev/null
  if [ "${GAR_OUTPUTS:-files}" = tar ]; then
    # Two files, for a call that brings back another task's outputs too: OUT/gar-run.tar (everything but
    # the full state's weights, which would pass 16 MB with the rest) and OUT/gar-state-<step>.safetensors.
    cp "$LOG" "$stage/train.log"
    [ -n "$weights" ] && mv "$stage/run/$weights" "$OUT/gar-state-${weights#checkpoint-}"
    tar -cf "$OUT/gar-run.tar" -C "$stage" .
    echo "unpack: mkdir DIR && tar -xf OUT/gar-run.tar -C DIR${weights:+ && mv OUT/gar-state-${weights#checkpoint-} DIR/run/$weights}"
  else
    cp -r "$stage"/. "$OUT/"
  fi
  echo "== outputs"; find "$OUT" -type f -printf '%p %s\n' | sort
}
trap collect EXIT

echo "== environment $(date -u +%FT%TZ)"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv,noheader 2>/dev/null
du -sh "$PACK"/* 2>/dev/null

echo "== parity (TF.js fixtures vs torch, fp32)"
NORMALS_DIR=$PACK/normals-$R
PARITY_ARGS=("$PACK/parity-$PRESET.safetensors")
[ -f "$NORMALS_DIR/checkpoint.json" ] && PARITY_ARGS+=(--normal-estimator "$NORMALS_DIR")
if ! $PY scripts/gpu/test_gar_parity.py "${PARITY_ARGS[@]}"; then
  echo "parity MISMATCH (or missing fixture): training not started"; exit 3
fi
echo "== data checks (pool mirroring, pairs, crops)"
if ! $PY scripts/gpu/test_gar_data.py "$PACK/normal-maps-$R" "$PACK/crops-$R"; then echo "data checks FAILED: training not started"; exit 3; fi
TRAIN_ARGS=(--crops "$PACK/crops-$R" --normal-maps "$PACK/normal-maps-$R" --out "$RUN" --preset "$PRESET" --batch "$BATCH"
  --minutes "$MINUTES" --export "$RUN/export" --log-every 100 --checkpoint-minutes 2)
[ -d "$RUN" ] && [ -f "$RUN/checkpoint.json" ] && TRAIN_ARGS+=(--resume)
[ -n "$INIT" ] && [ "$INIT" != none ] && TRAIN_ARGS+=(--init-from "$INIT")
[ -f "$NORMALS_DIR/checkpoint.json" ] && TRAIN_ARGS+=(--normal-estimator "$NORMALS_DIR" --normal-weight 1)
if [ -f "$PACK/judges/judges.json" ]; then
  if ! $PY scripts/gpu/test_judges_parity.py "$PACK/judges"; then echo "judges parity MISMATCH: training not started"; exit 3; fi
  TRAIN_ARGS+=(--judges-dir "$PACK/judges" --landmark-weight 0.5 --landmark-interval 4)
  [ -f "$PACK/judges/faceres.json" ] && TRAIN_ARGS+=(--identity-weight 0.5 --identity-interval 4)
fi

echo "== train ($MINUTES min)"
$PY scripts/gpu/train_gar.py "${TRAIN_ARGS[@]}" "$@"
status=$?
echo "== train_gar exit $status"
exit $status
