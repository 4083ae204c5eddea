"""Checks of the Python side against the TS fixtures in the pack, run before any training:
the encoder (initial weights and outputs) or the landmark regressor (outputs at its initial
weights), the rasteriser (triangle ids, normal map) and the scene maths (projected landmarks, crop
similarity, crop-frame targets). Each returns (ok, lines)."""
import math

import numpy as np
import torch

from face_encoder import FaceEncoder, LandmarkRegressor
from rasterizer import interpolate, rasterize, vertex_normals
from scenes import SceneGeometry, project, rotation_from_euler

ENCODER_TOLERANCE = 1e-3  # max |raw output difference| (standardised units)
ID_AGREEMENT_MIN = 0.995  # share of pixels covered in either image with the same triangle
NORMAL_TOLERANCE = 1e-3
POSE_TOLERANCE = 2e-3  # radians / crop fractions / log units (the pack's shapes are float16)
LANDMARK_TOLERANCE_PX = 0.05
QUANTISED_LANDMARK_TOLERANCE_PX = 0.5  # int8 shapes (export-landmark-pack.ts) move vertices by up to 0.3 mm


def check_encoder(pack, device):
    network = pack.manifest['network']
    encoder = FaceEncoder(network, network['seed'])
    lines, ok = [], True
    parameters = dict(encoder.ts_parameters())
    worst = 0.0
    for name, expected in pack.manifest['fixtures']['encoderInitChecksums'].items():
        value = parameters[name]
        if list(value.shape) != expected['shape']:
            return False, [f'encoder: {name} has shape {list(value.shape)}, TS {expected["shape"]}']
        worst = max(worst, abs(float(value.astype(np.float64).sum()) - expected['sum']) / (1 + abs(expected['sum'])),
                    float(np.abs(value.ravel()[:4] - np.array(expected['first'])).max()))
    ok &= worst < 1e-5
    lines.append(f'encoder initial weights vs TS (seed {network["seed"]}): worst relative checksum difference {worst:.2e}')
    encoder = encoder.to(device).eval()
    crops = torch.from_numpy(pack.array('fixture_encoder_crops')).permute(0, 3, 1, 2).to(device)
    expected = pack.array('fixture_encoder_raw_outputs')
    with torch.no_grad():
        raw = encoder(crops).float().cpu().numpy()
    difference = float(np.abs(raw - expected).max())
    ok &= difference < ENCODER_TOLERANCE
    lines.append(f'encoder forward vs TS on {len(crops)} studio crops: max |raw difference| {difference:.2e} (tolerance {ENCODER_TOLERANCE:g})')
    return ok, lines


def check_landmark_regressor(pack, device):
    """The landmark pack's fixture (export-landmark-pack.ts): TS LandmarkRegressor outputs at its initial weights."""
    if 'landmarks' not in pack.manifest:
        return False, [f'{pack.folder} is not a landmark pack: make one with scripts/gpu/export-landmark-pack.ts']
    info = pack.manifest['landmarks']
    regressor = LandmarkRegressor(info['network'], info['seed']).to(device).eval()
    crops = torch.from_numpy(pack.array('fixture_landmark_crops')).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)
    expected = pack.array('fixture_landmark_raw_outputs')
    with torch.no_grad():
        raw = regressor(crops).float().cpu().numpy()
    difference = float(np.abs(raw - expected).max())
    ok = difference < ENCODER_TOLERANCE
    return ok, [f'landmark regressor forward vs TS on {len(crops)} studio crops (seed {info["seed"]}, channelBase {info["network"]["channelBase"]}): '
                f'max |raw difference| {difference:.2e} (tolerance {ENCODER_TOLERANCE:g})']


def check_rasterizer(pack, device):
    points = torch.from_numpy(pack.array('fixture_raster_points')).to(device)
    expected_ids = torch.from_numpy(pack.array('fixture_raster_ids')).long().to(device) - 1
    expected_normals = torch.from_numpy(pack.array('fixture_raster_normals')).to(device)
    triangles = torch.from_numpy(pack.array('triangles')).long().to(device)[:pack.manifest['renderMesh']['faceTriangleCount']]
    ok, lines = True, []
    for i, fixture in enumerate(pack.manifest['fixtures']['raster']):
        p = points[i:i + 1]
        size = fixture['sizePx']
        xy = project(p, torch.tensor([fixture['focalPx']], device=device), torch.tensor([fixture['principalPointPx']], device=device))
        raster = rasterize(xy, -p[..., 2], triangles, size, size)
        normals = interpolate(raster, triangles, vertex_normals(p, triangles))[0]
        normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        ids, truth = raster.triangle[0], expected_ids[i]
        either = (ids >= 0) | (truth >= 0)
        same = (ids == truth) & either
        agreement = same.sum().item() / max(1, either.sum().item())
        normal_difference = (normals - expected_normals[i])[same].abs().max().item()
        ok &= agreement >= ID_AGREEMENT_MIN and normal_difference < NORMAL_TOLERANCE
        lines.append(f'rasteriser vs TS, scene {i} (yaw {fixture["yawDeg"]:.0f} deg, {int((truth >= 0).sum())} px covered): '
                     f'same triangle on {100 * agreement:.3f} % of pixels, normals max difference {normal_difference:.1e}')
    return ok, lines


def check_scenes(pack, device):
    geometry = SceneGeometry(pack, device)
    scenes = pack.manifest['fixtures']['poseScenes']
    tensor = lambda key: torch.tensor([s[key] for s in scenes], dtype=torch.float32, device=device)
    size = pack.manifest['network']['resolution']
    rotation = rotation_from_euler(tensor('anglesDeg') * math.pi / 180)
    translation, focal, principal = tensor('translationMm'), tensor('focalPx'), tensor('principalPointPx')
    vertices = geometry.vertices(torch.cat([tensor('identity'), tensor('expression')], 1))
    camera = vertices @ rotation.transpose(1, 2) + translation[:, None]
    landmarks = project(camera[:, geometry.detector_landmarks], focal, principal)
    expected_landmarks = tensor('landmarks68').view(-1, 68, 2)
    landmark_difference = (landmarks - expected_landmarks).abs().max().item()
    similarity = geometry.crop_similarity(expected_landmarks, size)
    expected_similarity = torch.tensor([[s['cropFromImage'][k] for k in ('a', 'c', 'tx', 'ty')] for s in scenes], device=device)
    similarity_difference = (torch.stack(similarity, 1) - expected_similarity).abs().max().item()
    pose, _ = geometry.crop_targets(rotation, translation, focal, principal, similarity, size)
    expected_pose = tensor('target')[:, -7:]
    pose_difference = (pose - expected_pose).abs().max().item()
    landmark_tolerance = QUANTISED_LANDMARK_TOLERANCE_PX if pack.quantised_basis else LANDMARK_TOLERANCE_PX
    ok = landmark_difference < landmark_tolerance and similarity_difference < 1e-3 and pose_difference < POSE_TOLERANCE
    return ok, [f'scenes vs TS ({len(scenes)} wide studio scenes): landmarks max {landmark_difference:.1e} px (tolerance {landmark_tolerance:g}'
                f'{", int8 shapes" if pack.quantised_basis else ""}), crop similarity max {similarity_difference:.1e}, crop-frame pose targets max {pose_difference:.1e}']


def run_parity_checks(pack, device, log, network_check=check_encoder):
    ok = True
    for check in (network_check, check_rasterizer, check_scenes):
        passed, lines = check(pack, device)
        for line in lines:
            log(('ok   ' if passed else 'FAIL ') + line)
        ok &= passed
    return ok
