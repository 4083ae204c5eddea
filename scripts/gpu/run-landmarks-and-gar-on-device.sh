#!/usr/bin/env bash
# Two trainers at once on the one GPU, each in its own process: the landmark regressor
# (scripts/gpu/train_landmarks.py on .gpu-pack-landmarks) and the GAR (scripts/gpu/run-gar-on-device.sh
# on .gpu-pack-gar, GAR_OUTPUTS=tar), both for MINUTES of training. Their progress lines are printed as
# they come, each prefixed with its trainer, and again at the end (validation lines and the last lines).
#
#   bash scripts/gpu/run-landmarks-and-gar-on-device.sh OUT MINUTES
#
# Carry .gpu-pack-landmarks (scripts/gpu/export-landmark-pack.ts) and .gpu-pack-gar. Environment:
# LANDMARK_ARGS (extra train_landmarks.py options), LANDMARK_THREADS and GAR_THREADS (CPU threads of
# each, default 8 of the machine's 16), PYTHON (python3); the GAR wrapper reads its own (GAR_PRESET, ...).
# Writes 7 files, none deeper than OUT/a/b/file:
#   OUT/landmarks/{train.log, metrics.json, samples.png, regressor/checkpoint.json, regressor/landmarks-128px-step<N>.safetensors}
#   OUT/gar/{gar-run.tar, gar-state-<step>.safetensors} (see run-gar-on-device.sh for unpacking)
# Exit status: 0 when both trainers succeeded, else the first non-zero of (landmarks, GAR).
# Wall time ≈ MINUTES + ~1.5 min (CUDA start, parity checks, validation, exports).
set -uo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 OUT MINUTES" >&2; exit 2; fi
OUT=$1 MINUTES=$2
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
mkdir -p "$OUT/landmarks" "$OUT/gar"
if [ ! -f .gpu-pack-landmarks/manifest.json ]; then
  echo "no .gpu-pack-landmarks/manifest.json: carry the landmark pack (node --import tsx scripts/gpu/export-landmark-pack.ts)" >&2; exit 3
fi
echo "== environment $(date -u +%FT%TZ)"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null
du -sh .gpu-pack-landmarks .gpu-pack-gar 2>/dev/null

# shellcheck disable=SC2086  # LANDMARK_ARGS is a list of options
( $PY scripts/gpu/train_landmarks.py --pack .gpu-pack-landmarks --out "$OUT/landmarks" --minutes "$MINUTES" --threads "${LANDMARK_THREADS:-8}" ${LANDMARK_ARGS:-} 2>&1 \
    | sed -u 's/^/[landmarks] /' ) &
landmarks_pid=$!
( OMP_NUM_THREADS=${GAR_THREADS:-8} GAR_OUTPUTS=tar bash scripts/gpu/run-gar-on-device.sh "$OUT/gar" "$MINUTES" 2>&1 | sed -u 's/^/[gar] /' ) &
gar_pid=$!
wait "$landmarks_pid"; landmarks_status=$?
wait "$gar_pid"; gar_status=$?

echo "== summary: landmarks exit $landmarks_status, GAR exit $gar_status"
log=$OUT/landmarks/train.log
{ grep -h 'parity checks\|baseline\|timing' "$log"; grep -h 'val step' "$log" | tail -3; grep -h 'exported' "$log" | tail -1; grep -h 'done:' "$log"; } 2>/dev/null | sed 's/^/[landmarks] /'
tar -xOf "$OUT/gar/gar-run.tar" ./train.log 2>/dev/null | tail -10 | sed 's/^/[gar] /'
echo "== outputs"
find "$OUT" -type f -printf '%p %s\n' | sort
files=$(find "$OUT" -type f | wc -l)
deepest=$(find "$OUT" -type f -printf '%P\n' | awk -F/ '{ print NF - 1 }' | sort -n | tail -1)
[ "$files" -le 8 ] || echo "WARNING: $files files under $OUT (at most 8 come back)"
[ "${deepest:-0}" -le 2 ] || echo "WARNING: a file $deepest folders deep under $OUT (at most 2)"
[ "$landmarks_status" -ne 0 ] && exit "$landmarks_status"
exit "$gar_status"
