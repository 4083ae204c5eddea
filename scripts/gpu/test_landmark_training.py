"""Checks of the landmark trainer's pieces that need no render pack:

  python3 scripts/gpu/test_landmark_training.py FIXTURE_DIR

FIXTURE_DIR holds a TS LandmarkRegressor fixture in the landmark pack's layout (manifest.json with
`landmarks.network` and `.seed`, fixture_landmark_crops.npy, fixture_landmark_raw_outputs.npy; gzipped or not).
- torch LandmarkRegressor = TS at the same seed (parity_checks.check_landmark_regressor);
- an export (landmark_training.export_regressor) goes to FIXTURE_DIR/regressor, with its raw outputs
  on the fixture crops in FIXTURE_DIR/reference.json, for the TS side to load and compare;
- the second pass's re-cut: around points already on the template it gives the crop back, around
  points moved by whole pixels the crop moved by them;
- NME: one pixel off everywhere is 1 px, and 1/sqrt(w h) of the box;
- the own-landmark framing with no randomness puts the alignment points on the template;
- the loss with no floor is the mean point distance.
Exits 1 on a failed check.
"""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from face_encoder import LandmarkRegressor  # noqa: E402
from landmark_training import export_regressor, landmark_loss, recut, reference_outputs, summarise  # noqa: E402
from pack_io import Pack  # noqa: E402
from parity_checks import check_landmark_regressor  # noqa: E402
from scenes import SceneConfig, alignment_points, apply_similarity, fit_similarity, invert_similarity, own_landmark_framing  # noqa: E402

TEMPLATE = torch.tensor([[0.37, 0.39], [0.63, 0.39], [0.392, 0.69], [0.608, 0.69]])  # src/detect/align-face-crop.ts


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    folder = sys.argv[1]
    failures = []

    def check(ok, what):
        print(f'  {"ok " if ok else "FAIL"} {what}')
        if not ok:
            failures.append(what)

    torch.manual_seed(0)
    pack = Pack(folder)
    ok, lines = check_landmark_regressor(pack, 'cpu')
    check(ok, lines[0])

    info = pack.manifest['landmarks']
    regressor = LandmarkRegressor(info['network'], info['seed'])
    regressor.output_mean.copy_(torch.rand(regressor.output_size) - 0.5)
    regressor.output_std.copy_(0.05 + 0.1 * torch.rand(regressor.output_size))
    vertices = list(range(0, 68 * 5, 5))
    name, reloaded = export_regressor(regressor, os.path.join(folder, 'regressor'), 3, vertices, {'name': 'test', 'vertexCount': 400}, {'why': 'test'}, passes=2)
    with open(os.path.join(folder, 'reference.json'), 'w') as f:
        json.dump(reference_outputs(reloaded, pack.array('fixture_landmark_crops')), f)
    manifest = json.load(open(os.path.join(folder, 'regressor', 'checkpoint.json')))
    check(manifest['weightsPath'] == name and manifest['passes'] == 2 and manifest['landmarkVertices'] == vertices, f'export {name}: manifest names the weights, passes and vertices')

    size = 32
    crops = torch.rand(2, 3, size, size) * 2 - 1
    crops = (crops + 1).mul(127.5).round().div(127.5).sub(1)  # 8-bit levels, as crops are
    on_template = torch.zeros(2, 68, 2)
    on_template[:, 36:42] = TEMPLATE[0] * size
    on_template[:, 42:48] = TEMPLATE[1] * size
    on_template[:, 48], on_template[:, 54] = TEMPLATE[2] * size, TEMPLATE[3] * size
    same, similarity = recut(crops, on_template, TEMPLATE, size)
    check((same - crops).abs().max() < 1e-5 and (similarity[0] - 1).abs().max() < 1e-6, 're-cut around points on the template gives the crop back')
    moved, _ = recut(crops, on_template + torch.tensor([3.0, 2.0]), TEMPLATE, size)
    check((moved[:, :, :-2, :-3] - crops[:, :, 2:, 3:]).abs().max() < 1e-5, 're-cut around points moved by (3, 2) px moves the crop by them')

    truth = torch.rand(3, 68, 2) * 20 + 5
    metrics = summarise(truth + torch.tensor([1.0, 0.0]), truth, torch.tensor([10.0, 40.0, 70.0]))
    extent = truth.max(1).values - truth.min(1).values
    box = float((100 / extent.prod(-1).sqrt()).mean())
    check(abs(metrics['error_px'] - 1) < 1e-5 and abs(metrics['nme_box_pct'] - box) < 1e-3 and metrics['count_by_yaw'] == [1, 1, 1],
          f'NME of points 1 px off: {metrics["error_px"]:.4f} px, {metrics["nme_box_pct"]:.3f} % of the box (expected {box:.3f}), one image per yaw bin')

    geometry = SimpleNamespace(template=TEMPLATE, crop_similarity=lambda points, crop: fit_similarity(alignment_points(points), TEMPLATE * crop))
    photo = truth * 7 + 100
    still = SceneConfig(own_framing_shift=0.0, own_framing_scale=0.0, own_framing_turn_rad=0.0, own_framing_point_noise=0.0)
    framing = own_landmark_framing(geometry, still, photo, torch.Generator().manual_seed(1), size)
    expected = fit_similarity(alignment_points(photo), TEMPLATE * size)
    check(max(float((a - b).abs().max()) for a, b in zip(framing, expected)) < 1e-4, 'own-landmark framing without randomness = the template fit of the model\'s own points')
    jittered = own_landmark_framing(geometry, SceneConfig(), photo, torch.Generator().manual_seed(1), size)
    moved = apply_similarity(jittered, alignment_points(photo)) - apply_similarity(expected, alignment_points(photo))
    check(0 < float(moved.abs().max()) < 0.5 * size * 0.26, f'with the default ranges the alignment points move, by at most {float(moved.abs().max()):.2f} px (half an eye distance {0.5 * size * 0.26:.2f})')
    back = invert_similarity(invert_similarity(jittered))
    check(max(float((a - b).abs().max()) for a, b in zip(back, jittered)) < 1e-5, 'a similarity inverted twice is itself')

    raw = torch.randn(2, 136) * 0.1
    target = torch.rand(2, 68, 2) * size
    loss, terms = landmark_loss(raw, regressor, target, size, 0.0)
    check(abs(float(loss) - float(terms['distance_px'])) < 1e-4, f'loss without a floor = mean point distance ({float(loss):.4f} px)')

    print('landmark training checks:', 'ok' if not failures else f'{len(failures)} FAILED')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
