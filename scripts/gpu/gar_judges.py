"""The GAR's frozen judges besides the normal estimator, ported from TS: FaceMesh landmarks
(src/gar/geometry-consistency.ts FaceMeshLandmarks + landmarkConsistencyLoss) and the FaceRes
identity contrastive loss (src/detect/face-embedding.ts FaceEmbedder + src/gar/identity-consistency.ts).
Both graphs run through tfjs_graph.TfjsGraph from the files export-judges.ts copies:
  <dir>/facemesh.json + .bin, <dir>/faceres.json + .bin, <dir>/judges.json (the iBUG-68 ← mesh-468 weights
  and the embedding spec, as TS defines them).
"""
import json
import os

import torch
import torch.nn.functional as F

from tfjs_graph import TfjsGraph

DEFAULT_CONSISTENCY_LANDMARKS = list(range(17, 68))  # brows, nose, eyes, mouth: the jaw is left out (TS)


def _resize(images, size):
    return F.interpolate(images, size=(size, size), mode='bilinear', align_corners=False)


class FaceMeshLandmarks(torch.nn.Module):
    """images [N, 3, R, R] in −1…1 → iBUG-68 points [N, 68, 2] in crop pixels (differentiable)."""

    def __init__(self, directory, spec):
        super().__init__()
        self.graph = TfjsGraph(os.path.join(directory, 'facemesh.json'), spec['facemesh']['meshOutput'])
        self.input_size = spec['facemesh']['inputSize']
        self.register_buffer('mesh_to_ibug', torch.tensor(spec['meshToIbug68'], dtype=torch.float32))  # [468, 68]

    def forward(self, images):
        n, _, R, _ = images.shape
        x = _resize((images * 0.5 + 0.5).clamp(0, 1), self.input_size)
        mesh = self.graph(x).reshape(n, -1, 3)  # [N, 468, 3] in input pixels
        xy = mesh[..., :2].transpose(1, 2)  # [N, 2, 468]
        return xy.matmul(self.mesh_to_ibug).transpose(1, 2) * (R / self.input_size)


def inter_ocular_px(landmarks2d):
    """[N, 68, 2] → [N] distance between the eye centres (means of 36–41 and 42–47)."""
    left, right = landmarks2d[:, 36:42].mean(dim=1), landmarks2d[:, 42:48].mean(dim=1)
    return (right - left).norm(dim=1)


def landmark_consistency_loss(found, targets, indices=DEFAULT_CONSISTENCY_LANDMARKS):
    """Mean over samples and `indices` of |found − target| / inter-ocular distance (of the targets)."""
    iod = inter_ocular_px(targets).clamp(min=1e-3)
    chosen = slice(indices[0], indices[-1] + 1) if list(indices) == list(range(indices[0], indices[-1] + 1)) else list(indices)
    distance = torch.sqrt((found[:, chosen] - targets[:, chosen]).square().sum(dim=2) + 1e-6)
    return (distance / iod[:, None]).mean()


class FaceEmbedder(torch.nn.Module):
    """images [N, 3, R, R] in 0…1 (aligned crops) → unit embeddings [N, D], as TS FaceEmbedder.embed."""

    def __init__(self, directory, spec):
        super().__init__()
        e = spec['embedding']
        self.graph = TfjsGraph(os.path.join(directory, f'{e["file"]}.json'), e['outputNode'])
        self.size, self.scale, self.offset, self.box = e['inputSize'], e['inputScale'], e['inputOffset'], e['box']

    def forward(self, images):
        n, size = images.shape[0], self.size
        full = round(size / self.box['side'])
        top, left = round(self.box['top'] * full), round(self.box['left'] * full)
        resized = _resize(images, full)
        t, l = max(0, top), max(0, left)
        square = resized[:, :, t:t + min(size, full - t), l:l + min(size, full - l)]
        if square.shape[2] != size or square.shape[3] != size:  # a box past the crop: black, as alignFaceCrop pads
            pt, pl = t - top, l - left
            square = F.pad(square, [pl, size - square.shape[3] - pl, pt, size - square.shape[2] - pt])
        x = square * self.scale + self.offset if (self.scale != 1 or self.offset != 0) else square
        raw = self.graph(x).reshape(n, -1)
        return raw / raw.norm(dim=1, keepdim=True).clamp(min=1e-12)


_PAIR_MASKS = {}


def _pair_masks(groups, device):
    """Same- and different-group masks over pairs i < j, made once per grouping (no host→device copy per step)."""
    key = (groups, str(device))
    if key not in _PAIR_MASKS:
        n = len(groups)
        same = [[float(i < j and groups[i] == groups[j]) for j in range(n)] for i in range(n)]
        different = [[float(i < j and groups[i] != groups[j]) for j in range(n)] for i in range(n)]
        _PAIR_MASKS[key] = (torch.tensor(same, device=device), torch.tensor(different, device=device), sum(map(sum, same)), sum(map(sum, different)))
    return _PAIR_MASKS[key]


def identity_contrastive_loss(embeddings, groups, margin=0.5, negative_weight=1.0):
    """Mean (1 − cos) over same-group pairs + negative_weight · mean max(0, cos − margin) over the others (i < j).

    `groups`: a list of group ids (host side, so the pair counts need no device sync).
    """
    same, different, same_count, different_count = _pair_masks(tuple(groups), embeddings.device)
    cosine = embeddings.matmul(embeddings.t())
    loss = embeddings.new_zeros([])
    if same_count > 0:
        loss = loss + ((1 - cosine) * same).sum() / same_count
    if different_count > 0 and negative_weight > 0:
        loss = loss + (F.relu(cosine - margin) * different).sum() / different_count * negative_weight
    return loss


def load_judges_spec(directory):
    with open(os.path.join(directory, 'judges.json')) as f:
        return json.load(f)


def build_graph_judges(config, directory, resolution, device):
    """The landmark and identity judges the config's weights need, as train_gar judges: f(images, maps) → scalar."""
    if not directory:
        raise SystemExit('--landmark-weight / --identity-weight > 0 need --judges-dir (made by scripts/gpu/export-judges.ts)')
    spec = load_judges_spec(directory)
    judges = {}
    if config.get('landmarkWeight', 0) > 0:
        facemesh = FaceMeshLandmarks(directory, spec).to(device)
        judges['landmark'] = lambda images, maps: landmark_consistency_loss(facemesh(images), maps['landmarks2d'])
    if config.get('identityWeight', 0) > 0:
        embedder = FaceEmbedder(directory, spec).to(device)
        ic = spec.get('identityConsistency', {'margin': 0.5, 'negativeWeight': 1.0})

        def identity(images, maps):
            groups = [i // 2 for i in range(images.shape[0])]  # samples 2k, 2k+1 share w and identity
            return identity_contrastive_loss(embedder((images * 0.5 + 0.5).clamp(0, 1)), groups, ic['margin'], ic['negativeWeight'])
        judges['identity'] = identity
    return judges
