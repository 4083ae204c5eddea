"""Random face scenes in batches: the studio benchmark's photo geometry (src/shading/studio-scene.ts)
over wider ranges, framed as inference frames faces (detector landmarks -> similarity onto
ALIGNED_CROP_TEMPLATE -> crop), with the encoder's targets in that crop's frame
(src/invert/crop-frame.ts: cropPoseOfPhotoFit). Angles in radians unless a name says degrees.
"""
import math

import numpy as np
import torch

FACE_HEIGHT_MM = 190.0  # studio-scene.ts: forehead to chin of an average face, for framing
PHOTO_SIDE_PX = 512.0  # the virtual photo the crop is cut from (only ratios matter)


class SceneConfig:
    """Ranges of the training scenes (defaults: the studio benchmark's, wider)."""

    def __init__(self, **overrides):
        self.max_yaw_deg, self.max_pitch_deg, self.max_roll_deg = 90.0, 20.0, 15.0
        self.focal_per_width = (1.0, 4.0)
        self.face_fraction = (0.3, 0.65)
        self.shift_fraction = 0.1
        self.identity_scale = 1.0
        self.max_active_expressions = 3
        self.max_expression_weight = 0.8
        self.landmark_jitter_scale = 1.0  # times the detector's measured alignment-point spread
        self.min_jitter_px = 0.4  # floor of that spread at 128 px (about 1 % of the eye distance)
        # Share of scenes framed from the model's own landmark vertices instead of the detector's
        # (a second pass that re-cuts the crop around a landmark regressor's points), with a random
        # similarity on top: shift up to this fraction of the template eye distance per axis, scale
        # up to exp(+-this), turn up to +-this rad, and per-point noise of this fraction.
        self.own_framing_share = 0.0
        self.own_framing_shift = 0.1
        self.own_framing_scale = 0.1
        self.own_framing_turn_rad = 0.1
        self.own_framing_point_noise = 0.03
        for key, value in overrides.items():
            setattr(self, key, value)


def rotation_from_euler(angles):
    """angles [..., 3] = (pitch, yaw, roll) -> R = Rz(roll) Ry(yaw) Rx(pitch) [..., 3, 3] (rotation.ts)."""
    cx, sx = torch.cos(angles[..., 0]), torch.sin(angles[..., 0])
    cy, sy = torch.cos(angles[..., 1]), torch.sin(angles[..., 1])
    cz, sz = torch.cos(angles[..., 2]), torch.sin(angles[..., 2])
    rows = [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
            sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
            -sy, cy * sx, cy * cx]
    return torch.stack(rows, -1).view(*angles.shape[:-1], 3, 3)


def euler_from_rotation(r):
    """Inverse of rotation_from_euler for |yaw| < 90 deg."""
    yaw = torch.asin((-r[..., 2, 0]).clamp(-1, 1))
    return torch.stack([torch.atan2(r[..., 2, 1], r[..., 2, 2]), yaw, torch.atan2(r[..., 1, 0], r[..., 0, 0])], -1)


def project(points, focal_px, principal_px):
    """Camera-space points [B, N, 3] (looking down -z) -> pixels [B, N, 2] (y down)."""
    depth = -points[..., 2]
    return torch.stack([principal_px[:, None, 0] + focal_px[:, None] * points[..., 0] / depth,
                        principal_px[:, None, 1] - focal_px[:, None] * points[..., 1] / depth], -1)


def alignment_points(landmarks68):
    """[B, 68, 2] -> [B, 4, 2]: the eye centres (mean of six points each) and mouth corners 48, 54."""
    return torch.stack([landmarks68[:, 36:42].mean(1), landmarks68[:, 42:48].mean(1), landmarks68[:, 48], landmarks68[:, 54]], 1)


def fit_similarity(source, target):
    """Least-squares similarity source -> target ([B, N, 2] each), as align-face-crop.ts fitSimilarity2D.
    Returns (a, c, tx, ty) [B] each: x' = a x - c y + tx, y' = c x + a y + ty."""
    target = target.expand(source.shape[0], -1, -1)
    fm, tm = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    p, q = source - fm, target - tm
    norm = (p ** 2).sum((1, 2))
    a = (p[..., 0] * q[..., 0] + p[..., 1] * q[..., 1]).sum(1) / norm
    c = (p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0]).sum(1) / norm
    tx = tm[:, 0, 0] - (a * fm[:, 0, 0] - c * fm[:, 0, 1])
    ty = tm[:, 0, 1] - (c * fm[:, 0, 0] + a * fm[:, 0, 1])
    return a, c, tx, ty


def apply_similarity(similarity, points):
    a, c, tx, ty = (s[:, None] for s in similarity)
    return torch.stack([a * points[..., 0] - c * points[..., 1] + tx, c * points[..., 0] + a * points[..., 1] + ty], -1)


def invert_similarity(similarity):
    a, c, tx, ty = similarity
    n = a * a + c * c
    ia, ic = a / n, -c / n
    return ia, ic, -(ia * tx - ic * ty), -(ic * tx + ia * ty)


class SceneGeometry:
    """The model on the device and the pack's framing constants."""

    def __init__(self, pack, device):
        m = pack.manifest
        self.device = device
        self.neutral = torch.from_numpy(pack.array('neutral')).to(device)  # [V, 3] mm
        identity = torch.from_numpy(pack.basis('identity_basis'))
        expression = torch.from_numpy(pack.basis('expression_basis'))
        self.identity_count, self.expression_count = identity.shape[0], expression.shape[0]
        self.basis = torch.cat([identity, expression]).view(identity.shape[0] + expression.shape[0], -1).to(device)  # [K+E, V*3]
        self.vertex_count = self.neutral.shape[0]
        self.face_vertex_count = m['model']['faceVertexCount']
        self.detector_landmarks = torch.tensor(m['detectorLandmarkVertexIndices'], device=device)
        self.model_landmarks = torch.tensor(m['landmarkVertexIndices'], device=device)
        self.template = torch.tensor(m['alignment']['template'], dtype=torch.float32, device=device)  # [4, 2] fractions
        self.pivot_mm = torch.tensor(m['cropFrame']['pivotMm'], dtype=torch.float32, device=device)
        self.focal_per_side = m['cropFrame']['focalPerSide']
        self.depth_ref_mm = m['cropFrame']['depthRefMm']
        landmarks = m['landmarkVertexIndices']
        # studio-scene.ts faceCentre: mean of nose tip, chin and nose bridge, 40 mm further back.
        self.face_centre_mm = self.neutral[[landmarks[30], landmarks[8], landmarks[27]]].mean(0) - torch.tensor([0.0, 0.0, 40.0], device=device)

    def vertices(self, coefficients, count=None):
        """coefficients [B, K+E] -> model-space vertices [B, count or V, 3] mm."""
        count = count or self.vertex_count
        offsets = coefficients @ self.basis[:, :count * 3]
        return self.neutral[:count] + offsets.view(-1, count, 3)

    def crop_similarity(self, landmarks68_px, crop_px):
        return fit_similarity(alignment_points(landmarks68_px), self.template * crop_px)

    def crop_targets(self, rotation, translation_mm, focal_px, principal_px, similarity, crop_px):
        """Crop-frame pose [B, 7] = euler 3 | pivotPx 2 | logFocal | logDepth, and the crop camera."""
        a, c, tx, ty = similarity
        turn, scale = torch.atan2(c, a), torch.hypot(a, c)
        # cropPoseOfPhotoFit: the crop's camera is the photo's turned about the optical axis by -turn.
        cos, sin = torch.cos(-turn), torch.sin(-turn)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        turn_matrix = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], -1).view(-1, 3, 3)
        crop_rotation = turn_matrix @ rotation
        crop_translation = (turn_matrix @ translation_mm[..., None])[..., 0]
        crop_focal = focal_px * scale
        crop_principal = apply_similarity(similarity, principal_px[:, None])[:, 0]
        pivot = crop_rotation @ self.pivot_mm + crop_translation
        pivot_px = project(pivot[:, None], crop_focal, crop_principal)[:, 0]
        pose = torch.cat([euler_from_rotation(crop_rotation), pivot_px / crop_px - 0.5,
                          torch.log(crop_focal / (self.focal_per_side * crop_px))[:, None],
                          torch.log(-pivot[:, 2] / self.depth_ref_mm)[:, None]], 1)
        return pose, crop_rotation


def detector_framing_jitter(offsets_px, config, device):
    """Mean [4, 2] and spread [4, 2] (floored at config.min_jitter_px) of the detector's alignment-point
    offsets on the pack's studio crops (studio_val_alignment_offsets_px, NaN where nothing was detected)."""
    detected = ~np.isnan(offsets_px).any((1, 2))
    mean = np.nanmean(offsets_px[detected], 0) if detected.any() else np.zeros((4, 2), np.float32)
    std = np.maximum(np.nanstd(offsets_px[detected], 0) if detected.sum() > 1 else np.zeros((4, 2)), config.min_jitter_px)
    return torch.from_numpy(mean).float().to(device), torch.from_numpy(std).float().to(device), int(detected.sum())


def own_landmark_framing(geometry, config, own_px, generator, crop_px):
    """The similarity a second pass cuts with: alignment points of the model's own landmarks (photo px
    [B, 68, 2]) under a random similarity and per-point noise (SceneConfig.own_framing_*)."""
    batch, device = own_px.shape[0], own_px.device
    uniform = lambda *shape: torch.rand(*shape, generator=generator, device=device) * 2 - 1
    own_similarity = geometry.crop_similarity(own_px, crop_px)
    points = apply_similarity(own_similarity, alignment_points(own_px))  # [B, 4, 2] crop px
    eye_px = float(geometry.template[1, 0] - geometry.template[0, 0]) * crop_px
    centre = points.mean(1, keepdim=True)
    turn, scale = uniform(batch) * config.own_framing_turn_rad, torch.exp(uniform(batch) * config.own_framing_scale)
    a, c = (scale * torch.cos(turn))[:, None], (scale * torch.sin(turn))[:, None]
    d = points - centre
    moved = torch.stack([a * d[..., 0] - c * d[..., 1], c * d[..., 0] + a * d[..., 1]], -1) + centre
    moved = moved + uniform(batch, 1, 2) * config.own_framing_shift * eye_px
    moved = moved + torch.randn(batch, 4, 2, generator=generator, device=device) * config.own_framing_point_noise * eye_px
    return fit_similarity(apply_similarity(invert_similarity(own_similarity), moved), geometry.template * crop_px)


def sample_scenes(geometry, config, batch, generator, jitter_mean_px, jitter_std_px, crop_px):
    """One batch of random scenes: coefficients, photo camera, detector-like framing (or, for a share
    config.own_framing_share, framing from the model's own landmarks), crop-frame targets, and the
    model's landmark vertices in the crop (`landmarks_crop_px` [B, 68, 2], occluded ones included)."""
    device = geometry.device
    uniform = lambda *shape: torch.rand(*shape, generator=generator, device=device)
    identity = torch.randn(batch, geometry.identity_count, generator=generator, device=device) * config.identity_scale
    expression = torch.zeros(batch, geometry.expression_count, device=device)
    active = torch.randint(0, config.max_active_expressions + 1, (batch,), generator=generator, device=device)
    for k in range(config.max_active_expressions):
        which = torch.randint(0, geometry.expression_count, (batch,), generator=generator, device=device)
        weight = uniform(batch) * config.max_expression_weight * (active > k)
        expression[torch.arange(batch, device=device), which] = torch.maximum(expression[torch.arange(batch, device=device), which], weight)
    limits = torch.tensor([config.max_pitch_deg, config.max_yaw_deg, config.max_roll_deg], device=device) * math.pi / 180
    angles = (uniform(batch, 3) * 2 - 1) * limits
    rotation = rotation_from_euler(angles)
    focal_px = PHOTO_SIDE_PX * (config.focal_per_width[0] + uniform(batch) * (config.focal_per_width[1] - config.focal_per_width[0]))
    fraction = config.face_fraction[0] + uniform(batch) * (config.face_fraction[1] - config.face_fraction[0])
    distance_mm = focal_px * FACE_HEIGHT_MM / (fraction * PHOTO_SIDE_PX)
    shift = (uniform(batch, 2) * 2 - 1) * config.shift_fraction * PHOTO_SIDE_PX * (distance_mm / focal_px)[:, None]
    translation = -(rotation @ geometry.face_centre_mm)
    translation = translation + torch.stack([shift[:, 0], shift[:, 1], -distance_mm], 1)
    principal = torch.full((batch, 2), PHOTO_SIDE_PX / 2, device=device)
    coefficients = torch.cat([identity, expression], 1)
    vertices = geometry.vertices(coefficients)
    camera = vertices @ rotation.transpose(1, 2) + translation[:, None]
    landmarks = project(camera[:, geometry.detector_landmarks], focal_px, principal)
    # Detector-like framing: move the four alignment points as the detector does (its measured mean
    # and spread, in crop px of the true framing), then fit the similarity as inference does.
    true_similarity = geometry.crop_similarity(landmarks, crop_px)
    points = apply_similarity(true_similarity, alignment_points(landmarks))
    noise = torch.randn(batch, 4, 2, generator=generator, device=device)
    points = points + jitter_mean_px + noise * jitter_std_px * config.landmark_jitter_scale
    similarity = fit_similarity(apply_similarity(invert_similarity(true_similarity), points), geometry.template * crop_px)
    own_px = project(camera[:, geometry.model_landmarks], focal_px, principal)
    if config.own_framing_share > 0:  # no extra draws otherwise: the shape trainer's stream stays as it was
        own = uniform(batch) < config.own_framing_share
        similarity = tuple(torch.where(own, o, d) for o, d in zip(own_landmark_framing(geometry, config, own_px, generator, crop_px), similarity))
    pose, _ = geometry.crop_targets(rotation, translation, focal_px, principal, similarity, crop_px)
    return {
        'identity': identity, 'expression': expression, 'pose': pose, 'camera_points': camera,
        'focal_px': focal_px, 'principal_px': principal, 'similarity': similarity, 'yaw': angles[:, 1],
        'landmarks_crop_px': apply_similarity(similarity, own_px),
    }
