"""Reading the training pack (scripts/gpu/export-training-pack.ts) and writing facegar's files.

Needs only numpy, pillow and torch (no safetensors package: the container format is small enough
to write here, and the GPU machine and the local Debian torch both lack or differ in it).
"""
import gzip
import hashlib
import json
import math
import os

import numpy as np
import torch
from PIL import Image

from gar_checkpoint import decode_safetensors, encode_safetensors  # the container format, written once


class Pack:
    """The pack folder: manifest, geometry, textures, studio validation crops and fixtures."""

    def __init__(self, folder):
        self.folder = folder
        manifest_path = os.path.join(folder, 'manifest.json')
        if not os.path.exists(manifest_path):
            raise FileNotFoundError(f'{folder}: no manifest.json (make the pack with scripts/gpu/export-training-pack.ts)')
        with open(manifest_path) as f:
            self.manifest = json.load(f)
        if self.manifest.get('format') != 1:
            raise ValueError(f'{folder}: pack format {self.manifest.get("format")} is not 1')

    @property
    def quantised_basis(self):
        """Whether the shapes are the landmark pack's int8 form (see basis)."""
        return os.path.exists(os.path.join(self.folder, 'identity_basis.q8.npy.gz'))

    def array(self, name):
        """`name`.npy, or `name`.npy.gz (the landmark pack gzips its arrays)."""
        path = os.path.join(self.folder, name + '.npy')
        if os.path.exists(path):
            return np.load(path)
        with gzip.open(path + '.gz', 'rb') as f:
            return np.load(f)

    def basis(self, name):
        """A shape basis [M, V, 3] as float32: `name`.npy (float16), or the landmark pack's int8 form
        (`name`.q8 times `name`.scale [M, 3], export-landmark-pack.ts --basis-bits 8)."""
        if not os.path.exists(os.path.join(self.folder, name + '.q8.npy.gz')):
            return self.array(name).astype(np.float32)
        return self.array(name + '.q8').astype(np.float32) * self.array(name + '.scale')[:, None, :]

    def skin_textures(self):
        """[T, 3, H, W] float32 linear albedo in 0..1 (the JPEGs hold sRGB)."""
        count = self.manifest['skinTextures']['count']
        images = [np.asarray(Image.open(os.path.join(self.folder, 'skin_textures', f'{i:03d}.jpg')).convert('RGB')) for i in range(count)]
        return srgb_to_linear(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0)

    def studio_crops(self):
        """The studio validation crops [N, S, S, 3] uint8, as the encoder sees them."""
        info = self.manifest['studioValidation']
        mosaic = np.asarray(Image.open(os.path.join(self.folder, 'studio_val_crops.jpg')).convert('RGB'))
        size, columns = info['sizePx'], info['columns']
        return np.stack([mosaic[(i // columns) * size:(i // columns + 1) * size, (i % columns) * size:(i % columns + 1) * size] for i in range(info['count'])])

    def studio_validation(self):
        """crops [N, S, S, 3] uint8 (as the encoder sees them), targets [N, K+E+7], alignment offsets [N, 4, 2] crop px."""
        return self.studio_crops(), self.array('studio_val_targets'), self.array('studio_val_alignment_offsets_px')


def srgb_to_linear(x):
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


# --- TS SeededRandom (src/common/seeded-random.ts), vectorised: its state after n calls is seed + n·C. ---

def ts_uniforms(seed, count, first_call=0):
    """The `count` uniforms mulberry32 gives from call `first_call` on (float64, as JS computes them)."""
    mask = np.uint64(0xFFFFFFFF)
    start = (seed & 0xFFFFFFFF) ^ 0x9E3779B9
    n = np.arange(first_call + 1, first_call + count + 1, dtype=np.uint64)
    t = (np.uint64(start) + n * np.uint64(0x6D2B79F5)) & mask

    def imul(a, b):
        return (a * b) & mask

    t = imul(t ^ (t >> np.uint64(15)), t | np.uint64(1))
    t = t ^ ((t + imul(t ^ (t >> np.uint64(7)), t | np.uint64(61))) & mask)
    return ((t ^ (t >> np.uint64(14))) & mask).astype(np.float64) / 4294967296.0


class TsNormals:
    """SeededRandom.normals(): Box–Muller, two uniforms per value, no spare kept."""

    def __init__(self, seed):
        self.seed, self.calls = seed, 0

    def normals(self, count, scale=1.0):
        u = ts_uniforms(self.seed, 2 * count, self.calls)
        self.calls += 2 * count
        values = np.sqrt(-2.0 * np.log(1.0 - u[0::2])) * np.cos(2.0 * math.pi * u[1::2])
        return (values * scale).astype(np.float32)


# --- safetensors and the encoder checkpoint folder ---

def write_safetensors(path, tensors, metadata, dtype='F16'):
    """tensors: list of (name, numpy array); all stored as `dtype`. Atomic (temp + rename)."""
    payload = encode_safetensors(tensors, metadata, dtype)
    write_atomic(path, payload)
    return hashlib.sha256(payload).hexdigest()


def write_checkpoint_folder(folder, weights_name, tensors, metadata, manifest):
    """A facegar checkpoint folder: the float16 safetensors, then checkpoint.json (`manifest` plus
    weightsPath and weightsSha256), then older .safetensors removed; each file atomic. Returns the SHA-256."""
    os.makedirs(folder, exist_ok=True)
    sha = write_safetensors(os.path.join(folder, weights_name), tensors, metadata)
    write_atomic(os.path.join(folder, 'checkpoint.json'), json.dumps({**manifest, 'weightsPath': weights_name, 'weightsSha256': sha}, indent=2))
    for old in os.listdir(folder):
        if old.endswith('.safetensors') and old != weights_name:
            os.remove(os.path.join(folder, old))
    return sha


def read_safetensors(path):
    with open(path, 'rb') as f:
        tensors, _ = decode_safetensors(f.read())
    return {name: value.astype(np.float32) for name, value in tensors.items()}


def write_atomic(path, payload):
    temp = path + '.tmp'
    with open(temp, 'wb' if isinstance(payload, bytes) else 'w') as f:
        f.write(payload)
    os.replace(temp, path)
