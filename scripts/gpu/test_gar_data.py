"""Checks of the trainer's inputs (gar_data.py) on a real pool and crop pack:

  python3 scripts/gpu/test_gar_data.py NORMAL_MAPS_STEM [CROPS_STEM]

- a mirrored normal map is the flipped map with the x normal negated on the face, background still 0;
  mirroring twice gives the map back;
- mirrored landmarks land where a mirrored face puts them: the eye centres and mouth corners of every
  map, mirrored or not, sit on the crop template (the framing is symmetric) within a few pixels, and
  the pool's mean landmarks mirrored fall on their mirror partners' means;
- pairs (2k, 2k+1) are drawn together and mirrored together;
- crops decode to the index's resolution, in −1…1.
Exits 1 on a failed check.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gar_data import CropPack, NormalMapPool, mirror_normal_maps  # noqa: E402

TEMPLATE = [(0.37, 0.39), (0.63, 0.39), (0.392, 0.69), (0.608, 0.69)]  # src/detect/align-face-crop.ts ALIGNED_CROP_TEMPLATE


def template_points(landmarks):
    """[N, 68, 2] → [N, 4, 2]: left eye centre, right eye centre, mouth corners 48 and 54 (image left first)."""
    return torch.stack([landmarks[:, 36:42].mean(1), landmarks[:, 42:48].mean(1), landmarks[:, 48], landmarks[:, 54]], dim=1)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    failures = []

    def check(ok, what):
        print(f'  {"ok " if ok else "FAIL"} {what}')
        if not ok:
            failures.append(what)

    pool = NormalMapPool(sys.argv[1], 'cpu')
    R = pool.resolution
    maps = pool.maps.float() / 255
    mirrored, mirrored_landmarks = mirror_normal_maps(maps, pool.landmarks2d)
    mask = maps.sum(1, keepdim=True) > 1e-6
    check(torch.equal(mirrored.sum(1, keepdim=True) > 1e-6, mask.flip(3)), 'mirrored mask = flipped mask')
    check(torch.allclose(mirrored[:, 0][mask.flip(3)[:, 0]], 1 - maps.flip(3)[:, 0][mask.flip(3)[:, 0]]), 'x normal negated on the face (encoded 1 − e)')
    check(torch.equal(mirrored[:, 1:], maps.flip(3)[:, 1:]), 'y and z normals only flipped')
    twice, twice_landmarks = mirror_normal_maps(mirrored, mirrored_landmarks)
    check(torch.allclose(twice, maps) and torch.allclose(twice_landmarks, pool.landmarks2d), 'mirroring twice gives the map back')
    target = torch.tensor(TEMPLATE) * R
    for name, landmarks in (('as drawn', pool.landmarks2d), ('mirrored', mirrored_landmarks)):
        error = (template_points(landmarks) - target).norm(dim=2)
        check(error.mean().item() < 0.05 * R, f'{name}: eye centres and mouth corners on the template, mean {error.mean():.2f} px, worst {error.max():.2f} px')
    # The mean face of the pool is mirror-symmetric (symmetric pose prior and framing): point k's mean
    # position mirrored must be its mirror partner's mean position — a wrong partner would be far off.
    from gar_data import IBUG68_MIRROR
    mean = pool.landmarks2d.mean(0)
    partner = mean[IBUG68_MIRROR]
    error = torch.stack([mean[:, 0] - (R - partner[:, 0]), mean[:, 1] - partner[:, 1]], dim=1).norm(dim=1)
    check(sorted(IBUG68_MIRROR) == list(range(68)) and all(IBUG68_MIRROR[IBUG68_MIRROR[k]] == k for k in range(68)), 'the iBUG-68 mirror map is an involution')
    check(error.max().item() < 0.03 * R, f'mean landmarks mirror onto their partners (worst {error.max():.2f} px at point {int(error.argmax())})')
    generator = torch.Generator().manual_seed(0)
    pairs = pool.sample_pairs(64, generator)
    index = pairs['index'].view(-1, 2)
    check(bool(((index[:, 0] % 2 == 0) & (index[:, 1] == index[:, 0] + 1)).all()), 'pairs are maps 2k and 2k+1')
    if len(sys.argv) > 2:
        crops = CropPack(sys.argv[2], 'cpu')
        batch = crops.sample(16, generator)
        check(list(batch.shape) == [16, 3, crops.resolution, crops.resolution] and batch.min() >= -1 and batch.max() <= 1, f'{crops.count} crops decode to {crops.resolution}² in −1…1')
    print('data checks: ok' if not failures else f'data checks: {len(failures)} FAILED')
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
