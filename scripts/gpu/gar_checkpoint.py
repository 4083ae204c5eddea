"""facegar checkpoint files from Python: safetensors (F32, as src/gar/safetensors.ts writes and
reads them) and the GAR / normal-estimator manifests (checkpoint.json), so torch runs read TS
checkpoints and write ones that `facegar train-gar --resume`, `facegar sample --gar` and
`facegar reconstruct --gar` load. No dependency beyond torch and numpy.
"""
import hashlib
import json
import os
import re
import struct

import numpy as np
import torch

CHECKPOINT_MANIFEST = 'checkpoint.json'
_DTYPES = {'F32': np.float32, 'F16': np.float16, 'U8': np.uint8, 'I32': np.int32}


def encode_safetensors(tensors, metadata=None, dtype='F32'):
    """tensors: list of (name, torch tensor or array) → bytes, every tensor stored as `dtype` ('F32' or 'F16';
    TS reads both), data 8-byte aligned as safetensors.ts writes it."""
    numpy_type = np.dtype(_DTYPES[dtype]).newbyteorder('<')
    header = {'__metadata__': {k: str(v) for k, v in (metadata or {}).items()}}
    blobs, offset = [], 0
    for name, value in tensors:
        array = value.detach().to('cpu', torch.float32).numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        data = np.ascontiguousarray(array, dtype=numpy_type).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(array.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':'))
    text += ' ' * ((8 - len(text.encode()) % 8) % 8)
    head = text.encode()
    return struct.pack('<Q', len(head)) + head + b''.join(blobs)


def decode_safetensors(data):
    """bytes → ({name: np.ndarray in its stored dtype}, metadata)."""
    if len(data) < 8:
        raise ValueError('not a safetensors file (too short)')
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + length].decode())
    start = 8 + length
    tensors, metadata = {}, header.pop('__metadata__', {}) or {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry['dtype'])
        if dtype is None:
            raise ValueError(f'tensor {name}: dtype {entry["dtype"]} is not supported')
        begin, end = entry['data_offsets']
        tensors[name] = np.frombuffer(data[start + begin:start + end], dtype=np.dtype(dtype).newbyteorder('<')).reshape(entry['shape']).copy()
    return tensors, metadata


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def write_file_atomic(path, data):
    """Temp file + rename, so a crash never leaves a half-written file."""
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def read_checkpoint_dir(directory):
    """(manifest, {name: array}) of a facegar checkpoint folder, or None when it has no checkpoint.json."""
    path = os.path.join(directory, CHECKPOINT_MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        manifest = json.load(f)
    weights = read_file(os.path.join(directory, manifest['weightsPath']))
    expected = manifest.get('weightsSha256')
    if isinstance(expected, str) and hashlib.sha256(weights).hexdigest() != expected.lower():
        raise ValueError(f'{directory}: weights do not match the SHA-256 in {CHECKPOINT_MANIFEST}')
    tensors, _ = decode_safetensors(weights)
    return manifest, tensors


def load_group(module, tensors, group):
    """Copy `group.<name>` tensors into the module's TS-named parameters and buffers (all must exist, shapes equal)."""
    with torch.no_grad():
        for name, t in module.state_dict(keep_vars=True).items():
            key = f'{group}.{name}'
            if key not in tensors:
                raise KeyError(f'checkpoint lacks {key}')
            saved = tensors[key]
            if list(saved.shape) != list(t.shape):
                raise ValueError(f'checkpoint {key} has shape {list(saved.shape)}, expected {list(t.shape)}')
            t.copy_(torch.from_numpy(saved).to(t.device, t.dtype))


def group_tensors(module, group):
    return [(f'{group}.{name}', t) for name, t in module.state_dict(keep_vars=True).items()]


def save_checkpoint_dir(directory, step, manifest, tensors, metadata, weights_name=None):
    """Weights first, then the manifest naming them, then the previous weights go (checkpoint-files.ts order)."""
    os.makedirs(directory, exist_ok=True)
    previous = None
    manifest_path = os.path.join(directory, CHECKPOINT_MANIFEST)
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = json.load(f).get('weightsPath')
    weights_path = weights_name or f'checkpoint-{step:08d}.safetensors'
    data = encode_safetensors(tensors, metadata)
    write_file_atomic(os.path.join(directory, weights_path), data)
    manifest = dict(manifest, weightsPath=weights_path)
    write_file_atomic(manifest_path, json.dumps(manifest, indent=2) + '\n')
    if previous and previous != weights_path and os.path.exists(os.path.join(directory, previous)):
        os.remove(os.path.join(directory, previous))
    return manifest, data


def without_machine_paths(text):
    """Absolute paths keep only their last component (scripts/export-gar.ts: a shipped manifest names no machine's folders)."""
    return re.sub(r'(^|[\s=])/[^\s]*/([^\s/]+)', lambda m: m.group(1) + m.group(2), text)


def export_generator(directory, generator, network, train, step, notes):
    """The shipped-model form (scripts/export-gar.ts): manifest + `G_ema.*` safetensors with its SHA-256."""
    os.makedirs(directory, exist_ok=True)
    notes = {key: without_machine_paths(str(value)) for key, value in notes.items()}
    data = encode_safetensors(group_tensors(generator, 'G_ema'), {
        'format': 'facegar-gar', 'step': str(step), 'network': json.dumps(network), 'content': 'G_ema.* only (exported by scripts/gpu/train_gar.py)'})
    weights_path = f'gar-{network["resolution"]}px-step{step}.safetensors'
    write_file_atomic(os.path.join(directory, weights_path), data)
    sha = hashlib.sha256(data).hexdigest()
    manifest = {
        'format': 1, 'className': 'GarTrainer', 'config': {'network': network, 'train': train},
        'step': step, 'imagesSeen': step * train['batchSize'], 'randomState': 0, 'pathLengthMean': 0,
        'adamSteps': {'G': step, 'D': step}, 'weightsPath': weights_path, 'notes': notes, 'weightsSha256': sha,
    }
    write_file_atomic(os.path.join(directory, CHECKPOINT_MANIFEST), json.dumps(manifest, indent=2) + '\n')
    return os.path.join(directory, weights_path), sha
