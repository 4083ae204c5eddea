"""Training inputs of the torch GAR trainer, held on the training device:
- CropPack: the real aligned crops packed by pack-crops.ts (WebP blobs + JSON index);
- NormalMapSource: the interface for normal maps of random geometry, and NormalMapPool, its
  implementation from a pool exported by export-normal-maps.ts (a live rasteriser can take its place).
Both sample with an explicit torch.Generator, so a training step's draws depend only on its seed.
"""
import io
import json
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

# iBUG-68 index of each point's mirror image (jaw, brows, nose, eyes, outer and inner lips).
IBUG68_MIRROR = (
    list(range(16, -1, -1)) + list(range(26, 21, -1)) + list(range(21, 16, -1)) + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48] + [59, 58, 57, 56, 55] + [64, 63, 62, 61, 60] + [67, 66, 65]
)


def _decode_image(blob):
    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image.convert('RGB'))


def _decode_all(blobs, threads=16):
    with ThreadPoolExecutor(max_workers=threads) as pool:  # PIL releases the GIL while decoding
        return list(pool.map(_decode_image, blobs))


def _read_pack(stem):
    with open(f'{stem}.json') as f:
        index = json.load(f)
    with open(f'{stem}.bin', 'rb') as f:
        data = f.read()
    return index, data


class CropPack:
    """Real crops [N, 3, R, R] uint8 on `device`; sample() gives [B, 3, R, R] float in −1…1, mirrored at random."""

    def __init__(self, stem, device, threads=16):
        index, data = _read_pack(stem)
        if index.get('format') != 'facegar-crops':
            raise ValueError(f'{stem}.json is not a facegar crop pack')
        offsets = index['offsets']
        images = _decode_all([data[offsets[i]:offsets[i + 1]] for i in range(index['count'])], threads)
        self.resolution = index['resolution']
        self.count = index['count']
        self.sources = index.get('sources', [])
        array = np.stack(images) if images else np.zeros([0, self.resolution, self.resolution, 3], np.uint8)
        if array.shape[1:] != (self.resolution, self.resolution, 3):
            raise ValueError(f'{stem}: crops are {array.shape[1:]}, the index says {self.resolution}²')
        self.images = torch.from_numpy(array).to(device).permute(0, 3, 1, 2).contiguous()

    def sample(self, batch, generator, mirror=True):
        device = self.images.device
        index = torch.randint(self.count, [batch], device=device, generator=generator)
        images = self.images[index].float() / 127.5 - 1
        if mirror:
            flip = torch.rand([batch], device=device, generator=generator) < 0.5
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
        return images


class NormalMapSource:
    """Normal maps of random model geometry, as GeometrySampler + renderNormalMap make them.

    sample(batch, generator) → dict with
      'normals' [B, 3, R, R] float: n·0.5 + 0.5 on the face, exactly 0 on the background;
      'landmarks2d' [B, 68, 2] float: the geometry's iBUG-68 points in crop pixels (None if unknown);
    sample_pairs(pairs, generator) → the same for 2·pairs maps where 2k and 2k+1 share the identity
      coefficients (same person, other pose/expression), or None when the source has no pairs.
    """

    resolution = None

    def sample(self, batch, generator):
        raise NotImplementedError

    def sample_pairs(self, pairs, generator):
        return None


_MIRROR_INDEX = {}


def _mirror_index(device):
    if str(device) not in _MIRROR_INDEX:
        _MIRROR_INDEX[str(device)] = torch.tensor(IBUG68_MIRROR, device=device)
    return _MIRROR_INDEX[str(device)]


def mirror_normal_maps(normals, landmarks2d=None):
    """Left-right mirror: flip, negate the x normal (encoded: 1 − e on the face), swap iBUG sides."""
    flipped = normals.flip(3)
    mask = flipped.sum(dim=1, keepdim=True) > 1e-6
    x = torch.where(mask, 1 - flipped[:, :1], flipped[:, :1])
    out = torch.cat([x, flipped[:, 1:]], dim=1)
    if landmarks2d is None:
        return out, None
    mirrored = landmarks2d.index_select(1, _mirror_index(landmarks2d.device))
    mirrored = torch.stack([normals.shape[3] - mirrored[..., 0], mirrored[..., 1]], dim=-1)
    return out, mirrored


class NormalMapPool(NormalMapSource):
    """A pool exported by export-normal-maps.ts, held on `device`; each draw mirrored with probability ½."""

    def __init__(self, stem, device, mirror=True, threads=16):
        index, data = _read_pack(stem)
        if index.get('format') != 'facegar-normal-maps':
            raise ValueError(f'{stem}.json is not a facegar normal-map pool')
        R, count = index['resolution'], index['count']
        sections = {s['name']: data[s['offset']:s['offset'] + s['length']] for s in index['sections']}
        tiles = index['tilesPerSide']
        maps = []
        for k, sheet in enumerate(_decode_all([sections[f'sheet{i}'] for i in range(len(index['sheetCounts']))], threads)):
            for j in range(index['sheetCounts'][k]):
                y0, x0 = (j // tiles) * R, (j % tiles) * R
                maps.append(sheet[y0:y0 + R, x0:x0 + R])
        array = np.stack(maps)
        if 'mask' in sections:  # near-lossless sheets: the exact face mask decides the background
            bits = np.unpackbits(np.frombuffer(zlib.decompress(sections['mask']), np.uint8), bitorder='little')[:count * R * R]
            mask = bits.reshape(count, R, R, 1).astype(bool)
            array = np.where(mask, np.maximum(array, 1), 0).astype(np.uint8)  # a face pixel never reads as background
        landmarks = np.frombuffer(sections['landmarks2d'], np.float16).astype(np.float32).reshape(count, 68, 2)
        self.resolution, self.count, self.mirror, self.paired = R, count, mirror, bool(index.get('paired'))
        self.maps = torch.from_numpy(array).to(device).permute(0, 3, 1, 2).contiguous()
        self.landmarks2d = torch.from_numpy(landmarks.copy()).to(device)
        self.euler = np.frombuffer(sections['eulerRad'], np.float16).astype(np.float32).reshape(count, 3) if 'eulerRad' in sections else None

    def _take(self, index, flip):
        normals = self.maps[index].float() / 255
        landmarks = self.landmarks2d[index]
        if flip is not None:
            mirrored, mirrored_landmarks = mirror_normal_maps(normals, landmarks)
            normals = torch.where(flip.view(-1, 1, 1, 1), mirrored, normals)
            landmarks = torch.where(flip.view(-1, 1, 1), mirrored_landmarks, landmarks)
        return {'normals': normals, 'landmarks2d': landmarks, 'index': index}

    def sample(self, batch, generator):
        device = self.maps.device
        index = torch.randint(self.count, [batch], device=device, generator=generator)
        flip = torch.rand([batch], device=device, generator=generator) < 0.5 if self.mirror else None
        return self._take(index, flip)

    def sample_pairs(self, pairs, generator):
        if not self.paired:
            return None
        device = self.maps.device
        first = torch.randint(self.count // 2, [pairs], device=device, generator=generator) * 2
        index = torch.stack([first, first + 1], dim=1).reshape(-1)
        # Both maps of a pair mirror together: a mirrored identity is another face shape.
        flip = (torch.rand([pairs], device=device, generator=generator) < 0.5).repeat_interleave(2) if self.mirror else None
        return self._take(index, flip)

    def fixed(self, indices):
        """The same maps every time (sample grids)."""
        return self._take(torch.as_tensor(indices, device=self.maps.device), None)
