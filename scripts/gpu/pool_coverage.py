"""How well does a finite pool of normal maps stand in for the live GeometrySampler?

  python3 scripts/gpu/pool_coverage.py POOL_STEM FRESH_STEM

FRESH_STEM: maps the pool never saw (export-normal-maps.ts with another --seed). For pools made of
the first n maps of POOL (n doubling up to all of it), with and without mirror flips, prints the
mean distance from each fresh map to its nearest pool map (RMS over pixels of the encoded maps, so
a background/face disagreement counts fully), and, for scale, the mean distance between two
unrelated maps. If doubling n shrinks the nearest-neighbour distance only a little, the pool is
as sparse as any affordable pool would be and training leans on the generator generalising.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gar_data import NormalMapPool, mirror_normal_maps  # noqa: E402


def nearest_rms(queries, pool, chunk=512):
    """[Q, D], [P, D] → [Q] RMS distance to the nearest pool row."""
    q2 = queries.square().sum(1, keepdim=True)
    best = torch.full([queries.shape[0]], float('inf'))
    for start in range(0, pool.shape[0], chunk):
        p = pool[start:start + chunk]
        d2 = q2 + p.square().sum(1)[None] - 2 * queries.matmul(p.t())
        best = torch.minimum(best, d2.min(dim=1).values)
    return (best.clamp(min=0) / queries.shape[1]).sqrt()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    pool = NormalMapPool(sys.argv[1], 'cpu', mirror=False)
    fresh = NormalMapPool(sys.argv[2], 'cpu', mirror=False)
    maps = pool.maps.float() / 255
    mirrored, _ = mirror_normal_maps(maps)
    queries = (fresh.maps.float() / 255).reshape(fresh.count, -1)
    flat, flat_mirrored = maps.reshape(pool.count, -1), mirrored.reshape(pool.count, -1)
    unrelated = (queries[:-1] - queries[1:]).square().mean(1).sqrt().mean().item()
    print(f'{fresh.count} fresh maps vs pools from {sys.argv[1]} ({pool.count} maps at {pool.resolution}²); '
          f'two unrelated maps: {unrelated:.4f} RMS')
    n = 250
    while True:
        n = min(n, pool.count)
        plain = nearest_rms(queries, flat[:n]).mean().item()
        both = nearest_rms(queries, torch.cat([flat[:n], flat_mirrored[:n]])).mean().item()
        print(f'  pool {n:6d}: nearest {plain:.4f} RMS; with mirror flips ({2 * n} maps): {both:.4f}')
        if n == pool.count:
            break
        n *= 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
