"""Loss, validation metrics, output standardisation and the TS-loadable export of the landmark
regressor (src/invert/landmark-regressor.ts). Points are where the model's own landmark vertices
project into the crop, occluded ones included; the network predicts them as (u/S - 1/2, v/S - 1/2),
standardised by fixed output buffers.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from face_encoder import LandmarkRegressor
from pack_io import read_safetensors, write_checkpoint_folder
from post_process import render_photos
from scenes import alignment_points, apply_similarity, fit_similarity, invert_similarity, project, sample_scenes

IBUG = 68  # the first points are iBUG-68; any after them are dense face vertices (export-landmark-pack.ts --dense)


def target_points(scenes, dense_vertices):
    """[B, L, 2] crop px: iBUG-68 (the model's landmark vertices, as the scenes give them) then the dense
    vertices, each projected by the scene's camera and moved into its crop, occluded ones included."""
    if dense_vertices is None or len(dense_vertices) == 0:
        return scenes['landmarks_crop_px']
    dense = project(scenes['camera_points'][:, dense_vertices], scenes['focal_px'], scenes['principal_px'])
    return torch.cat([scenes['landmarks_crop_px'], apply_similarity(scenes['similarity'], dense)], 1)

YAW_BINS_DEG = (0.0, 30.0, 60.0, 90.01)  # AFLW2000-3D's bins of |yaw|


def predicted_px(raw, network, crop_px):
    """raw [B, 2L] -> crop pixels [B, L, 2]."""
    return (network.destandardise(raw).view(raw.shape[0], -1, 2) + 0.5) * crop_px


def landmark_loss(raw, network, target_px, crop_px, floor_px):
    """Mean point distance in crop px, smoothed below floor_px (sqrt(d^2 + f^2) - f), over all points."""
    distance_sq = ((predicted_px(raw, network, crop_px) - target_px) ** 2).sum(-1)
    smooth = (distance_sq + floor_px ** 2).sqrt() - floor_px
    return smooth.mean(), {'distance_px': distance_sq.detach().sqrt().mean()}


@torch.no_grad()
def output_standardisation(geometry, config, jitter_mean, jitter_std, crop_px, count=16384, batch=1024, seed=12345, dense_vertices=None):
    """Mean and spread [2L] of the training targets (u/S - 1/2, v/S - 1/2), from `count` scenes (no rendering)."""
    generator = torch.Generator(device=geometry.device).manual_seed(seed)
    sizes = [min(batch, count - start) for start in range(0, count, batch)]
    rows = [target_points(sample_scenes(geometry, config, size, generator, jitter_mean, jitter_std, crop_px), dense_vertices).reshape(size, -1) / crop_px - 0.5
            for size in sizes]
    values = torch.cat(rows)
    return values.mean(0), values.std(0).clamp_min(1e-3)


@torch.no_grad()
def held_out_renders(geometry, renderer, config, count, batch, jitter_mean, jitter_std, crop_px, shadows, device, seed=987654321):
    """(crops [N, 3, S, S], landmarks [N, 68, 2] crop px, yaw [N] deg) of `count` renders from a
    generator of their own (the same set at every validation and in every run); None when count is 0."""
    if count <= 0:
        return None
    generator = torch.Generator(device=device).manual_seed(seed)
    crops, points, yaw = [], [], []
    for start in range(0, count, batch):
        scenes, x = render_photos(geometry, renderer, config, min(batch, count - start), generator, jitter_mean, jitter_std, crop_px, shadows)
        crops.append(x)
        points.append(scenes['landmarks_crop_px'])
        yaw.append(scenes['yaw'] * 180 / np.pi)
    return torch.cat(crops).contiguous(memory_format=torch.channels_last), torch.cat(points), torch.cat(yaw)


def eye_centres(points):
    return points[:, 36:42].mean(1), points[:, 42:48].mean(1)


def normalised_errors(predicted, truth):
    """Per image: mean point error over the true eye-centre distance and over sqrt(w h) of the true 68-point box."""
    errors = (predicted - truth).norm(dim=-1).mean(1)
    left, right = eye_centres(truth)
    extent = truth.max(1).values - truth.min(1).values
    return errors / (right - left).norm(dim=-1), errors / extent.prod(-1).sqrt(), errors


def recut(crops, points_px, template, crop_px):
    """A second pass's crop: the crop re-cut from itself around `points_px` (outside = black, 8-bit
    levels), and the similarity first crop -> second crop."""
    similarity = fit_similarity(alignment_points(points_px), template * crop_px)
    back = invert_similarity(similarity)
    centres = torch.arange(crop_px, device=crops.device, dtype=torch.float32) + 0.5
    grid = torch.stack(torch.meshgrid(centres, centres, indexing='xy'), -1).view(1, -1, 2).expand(crops.shape[0], -1, -1)
    source = apply_similarity(back, grid).view(-1, crop_px, crop_px, 2) / crop_px * 2 - 1
    image = F.grid_sample((crops.float() + 1) / 2, source, mode='bilinear', padding_mode='zeros', align_corners=False)
    return ((image * 255).round() / 127.5 - 1).contiguous(memory_format=torch.channels_last), similarity


@torch.no_grad()
def predict(network, crops, crop_px, batch=100):
    training = network.training
    network.eval()
    out = torch.cat([predicted_px(network(crops[i:i + batch]).float(), network, crop_px) for i in range(0, crops.shape[0], batch)])
    network.train(training)
    return out


def summarise(predicted, truth, yaw_deg):
    nme_io, nme_box, errors = normalised_errors(predicted, truth)
    bins = []
    for low, high in zip(YAW_BINS_DEG[:-1], YAW_BINS_DEG[1:]):
        inside = (yaw_deg.abs() >= low) & (yaw_deg.abs() < high)
        bins.append((float(100 * nme_io[inside].mean()) if inside.any() else None, float(100 * nme_box[inside].mean()) if inside.any() else None, int(inside.sum())))
    box_bins = [b[1] for b in bins if b[1] is not None]
    # The eye distance vanishes towards profiles: its overall mean covers |yaw| < 60 deg only.
    below = yaw_deg.abs() < 60
    return {
        'nme_io_pct': float(100 * nme_io[below].mean()) if below.any() else None, 'nme_box_pct': float(100 * nme_box.mean()), 'error_px': float(errors.mean()),
        'nme_io_pct_by_yaw': [b[0] for b in bins], 'nme_box_pct_by_yaw': [b[1] for b in bins], 'count_by_yaw': [b[2] for b in bins],
        'nme_box_pct_mean_of_bins': float(np.mean(box_bins)) if box_bins else None,
    }


@torch.no_grad()
def validate(network, crops, truth, yaw_deg, template, crop_px):
    """First pass on the detector-cut crops, and a second pass re-cut around the first pass's points
    (iBUG-68 only: the truth of the validation crops has no dense points)."""
    first = predict(network, crops, crop_px)[:, :IBUG]
    metrics = summarise(first, truth, yaw_deg)
    second_crops, similarity = recut(crops, first, template, crop_px)
    second = apply_similarity(invert_similarity(similarity), predict(network, second_crops, crop_px)[:, :IBUG])
    metrics['second_pass'] = summarise(second, truth, yaw_deg)
    return metrics


def best_passes(metrics):
    """2 when the second pass's mean error (over the box) beat the first pass's in `metrics` (validate's), else 1."""
    return 2 if metrics['second_pass']['nme_box_pct'] < metrics['nme_box_pct'] else 1


def describe_metrics(m):
    by_yaw = lambda values: '/'.join('-' if v is None else f'{v:.2f}' for v in values)
    s = m['second_pass']
    eye = lambda v: '-' if v is None else f'{v:.2f}'
    return (f'NME {eye(m["nme_io_pct"])} % of the eye distance below 60 deg (by |yaw| 0-30/30-60/60-90: {by_yaw(m["nme_io_pct_by_yaw"])}), '
            f'{m["nme_box_pct"]:.2f} % of the box ({by_yaw(m["nme_box_pct_by_yaw"])}; mean of bins {m["nme_box_pct_mean_of_bins"]:.2f}), {m["error_px"]:.2f} px; '
            f'second pass {eye(s["nme_io_pct"])} % eye / {s["nme_box_pct"]:.2f} % box ({by_yaw(s["nme_box_pct_by_yaw"])})')


def export_regressor(regressor, folder, step, landmark_vertices, model, notes, passes=1):
    """Write checkpoint.json + a float16 safetensors (L.* in TS names and layouts), atomically.
    model: {'name', 'vertexCount'} of the morphable model the vertices index; passes: inference's default.
    Returns (weights path, the exported regressor re-read as float32 on the CPU)."""
    network = {k: regressor.config[k] for k in ('resolution', 'channelBase', 'channelMax', 'hiddenFeatures', 'landmarkCount')}
    name = f'landmarks-{network["resolution"]}px-step{step}.safetensors'
    write_checkpoint_folder(folder, name, [(f'L.{k}', v) for k, v in regressor.ts_parameters()],
                            {'format': 'facegar-landmark-regressor', 'step': str(step), 'network': json.dumps(network)},
                            {'format': 1, 'className': 'LandmarkRegressor', 'config': {'network': network}, 'landmarkVertices': [int(v) for v in landmark_vertices],
                             'model': model, 'passes': int(passes), 'step': step, 'notes': notes})
    reloaded = LandmarkRegressor(network, None)
    reloaded.load_ts_parameters({k[2:]: v for k, v in read_safetensors(os.path.join(folder, name)).items()})
    return name, reloaded.eval()


def reference_outputs(reloaded, crops_u8):
    """The exported network's raw outputs on the pack's 8-bit fixture crops, for check-landmark-export.ts."""
    with torch.no_grad():
        raw = reloaded(torch.from_numpy(crops_u8).permute(0, 3, 1, 2).float() / 127.5 - 1).numpy()
    return {'crops': 'fixture_landmark_crops of the pack', 'raw': np.round(raw, 7).tolist()}


def draw_points(images_u8, points_px, colour):
    """Dots (one pixel and its four neighbours) on copies of images [N, S, S, 3] at points [N, L, 2] crop px."""
    out = images_u8.copy()
    size = out.shape[1]
    for n in range(out.shape[0]):
        for x, y in np.floor(points_px[n]).astype(int):
            for dx, dy in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= x + dx < size and 0 <= y + dy < size:
                    out[n, y + dy, x + dx] = colour
    return out
