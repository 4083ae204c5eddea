"""Loss, validation metrics and the TS-loadable export of the shape encoder.

The loss is the TS trainer's (src/invert/train-encoder.ts) standardised-parameter loss (identity
and pose in units of their spread, expression weights through a sigmoid over 0.2) plus two vertex
terms in mm over the full face area (the 9,409 vertices the benchmark scores): the shape alone
(identity + expression, model space) and the posed shape R(euler)(v - pivot). The GAR latent w is
not trained (no GAR in this loop): its outputs are left out of the loss, and the export sets them
to the shipped GAR's mean latent exactly (head columns zeroed, output_mean = w_avg).
"""
import json
import math
import os

import numpy as np
import torch

from face_encoder import FaceEncoder
from pack_io import read_safetensors, write_atomic, write_checkpoint_folder
from scenes import rotation_from_euler

EXPRESSION_SCALE = 0.2  # train-encoder.ts: spread of the expression weights the loss divides by


class OutputLayout:
    def __init__(self, network):
        self.K, self.E, self.w_dim = network['identityCount'], network['expressionCount'], network['wDim']
        self.expression = self.K
        self.pose = self.K + self.E  # euler 3 | pivot 2 | logFocal | logDepth
        self.w = self.pose + 7
        self.size = self.w + self.w_dim


def decode(raw, encoder, layout):
    """raw [B, P] -> identity [B, K], expression weights [B, E], pose [B, 7] (parameter units)."""
    values = encoder.output_mean + encoder.output_std * raw
    return values[:, :layout.K], torch.sigmoid(values[:, layout.K:layout.pose]), values[:, layout.pose:layout.w]


def shape_loss(raw, encoder, layout, geometry, targets, weights):
    """targets: identity [B, K], expression [B, E], pose [B, 7]. Returns (total, terms dict of floats-as-tensors)."""
    identity, expression, pose = decode(raw, encoder, layout)
    mean, std = encoder.output_mean, encoder.output_std
    standardised_identity = (targets['identity'] - mean[:layout.K]) / std[:layout.K]
    standardised_pose = (targets['pose'] - mean[layout.pose:layout.w]) / std[layout.pose:layout.w]
    squared = torch.cat([(raw[:, :layout.K] - standardised_identity) ** 2,
                         ((expression - targets['expression']) / EXPRESSION_SCALE) ** 2,
                         (raw[:, layout.pose:layout.w] - standardised_pose) ** 2], 1)
    parameter = squared.mean()
    count = geometry.face_vertex_count
    predicted = geometry.vertices(torch.cat([identity, expression], 1), count)
    truth = geometry.vertices(torch.cat([targets['identity'], targets['expression']], 1), count)
    shape_mm = (predicted - truth).norm(dim=-1).mean()
    posed = lambda v, euler: (v - geometry.pivot_mm) @ rotation_from_euler(euler).transpose(1, 2)
    posed_mm = (posed(predicted, pose[:, :3]) - posed(truth, targets['pose'][:, :3])).norm(dim=-1).mean()
    total = weights['parameter'] * parameter + weights['shape'] * shape_mm + weights['posed'] * posed_mm
    return total, {'parameter': parameter, 'shape_mm': shape_mm, 'posed_mm': posed_mm}


def similarity_aligned_errors_mm(source, target):
    """Per-vertex distances [B, V] after the least-squares similarity of source onto target (Umeyama)."""
    sm, tm = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    s, t = source - sm, target - tm
    covariance = t.transpose(1, 2) @ s / source.shape[1]
    u, singular, vt = torch.linalg.svd(covariance)
    d = torch.ones_like(singular)
    d[:, 2] = torch.sign(torch.det(u @ vt))
    rotation = u @ torch.diag_embed(d) @ vt
    scale = (singular * d).sum(1) / (s ** 2).sum((1, 2)) * source.shape[1]
    aligned = scale[:, None, None] * s @ rotation.transpose(1, 2) + tm
    return (aligned - target).norm(dim=-1)


def identity_mode_ranking(geometry, count=20):
    """The `count` identity modes that move the face area most (norm of their shape over those vertices)."""
    basis = geometry.basis[:geometry.identity_count, :geometry.face_vertex_count * 3]
    return torch.argsort(basis.norm(dim=1), descending=True)[:count]


def correlation_per_mode(predicted, truth):
    p, t = predicted - predicted.mean(0), truth - truth.mean(0)
    return (p * t).sum(0) / (p.norm(dim=0) * t.norm(dim=0)).clamp_min(1e-9)


@torch.no_grad()
def validate(encoder, layout, geometry, crops, targets, top_modes, batch=100):
    """Metrics on the pack's studio crops (targets [N, K+E+7] in parameter units)."""
    encoder.eval()
    raws = torch.cat([encoder(crops[i:i + batch]).float() for i in range(0, crops.shape[0], batch)])
    encoder.train()
    identity, expression, pose = decode(raws, encoder, layout)
    true_identity, true_expression, true_pose = targets[:, :layout.K], targets[:, layout.K:layout.pose], targets[:, layout.pose:]
    count = geometry.face_vertex_count
    truth = geometry.vertices(torch.cat([true_identity, true_expression], 1), count)
    predicted = geometry.vertices(torch.cat([identity, expression], 1), count)
    mean_face = geometry.neutral[:count].expand_as(truth)
    median_mm = similarity_aligned_errors_mm(predicted, truth).median(1).values
    mean_face_mm = similarity_aligned_errors_mm(mean_face.contiguous(), truth).median(1).values
    correlation = correlation_per_mode(identity, true_identity)
    focal_error = (torch.exp(pose[:, 5] - true_pose[:, 5]) - 1).abs()
    standardised = torch.cat([(identity - true_identity) / encoder.output_std[:layout.K],
                              (expression - true_expression) / EXPRESSION_SCALE,
                              (pose - true_pose) / encoder.output_std[layout.pose:layout.w]], 1)
    return {
        'median_mm': float(median_mm.mean()), 'mean_face_median_mm': float(mean_face_mm.mean()),
        'ratio_to_mean_face': float(median_mm.mean() / mean_face_mm.mean()),
        'identity_correlation': float(correlation.mean()), 'identity_correlation_top20': float(correlation[top_modes].mean()),
        'focal_error_median_pct': float(100 * focal_error.median()),
        'yaw_error_median_deg': float((pose[:, 1] - true_pose[:, 1]).abs().median() * 180 / math.pi),
        'parameter_loss': float((standardised ** 2).mean()),
        # Per-mode RMS identity error: the export's identityErrorStd (the fit's identity prior precision).
        'identity_rms_per_mode': [round(float(v), 4) for v in ((identity - true_identity) ** 2).mean(0).sqrt()],
    }


def export_encoder(encoder, layout, w_avg, folder, step, notes, train_config, identity_error_std=None):
    """Write checkpoint.json + a float16 safetensors (E.* in TS names and layouts), atomically;
    identity_error_std [K]: measured RMS identity errors (manifest identityErrorStd, clamped to (0, 10]).
    Returns (weights path, the exported encoder re-read as float32 on the CPU)."""
    parameters = dict(encoder.ts_parameters())
    parameters['head.weight'][:, layout.w:] = 0  # w = output_mean = the GAR's mean latent
    parameters['head.bias'][layout.w:] = 0
    parameters['output_mean'][layout.w:] = w_avg
    parameters['output_std'][layout.w:] = 1
    network = {k: encoder.config[k] for k in ('resolution', 'channelBase', 'channelMax', 'hiddenFeatures', 'identityCount', 'expressionCount', 'wDim')}
    name = f'encoder-{network["resolution"]}px-step{step}.safetensors'
    manifest = {'format': 1, 'className': 'EncoderTrainer', 'config': {'network': network, 'train': train_config},
                'step': step, 'randomState': 0, 'adamSteps': step, 'notes': notes}
    if identity_error_std is not None:
        manifest['identityErrorStd'] = [min(10.0, max(0.05, float(v))) for v in identity_error_std]
    write_checkpoint_folder(folder, name, [(f'E.{k}', v) for k, v in parameters.items()],
                            {'format': 'facegar-encoder', 'step': str(step), 'network': json.dumps(network)}, manifest)
    reloaded = FaceEncoder(encoder.config, None)
    reloaded.load_ts_parameters({k[2:]: v for k, v in read_safetensors(os.path.join(folder, name)).items()})
    return name, reloaded.eval()


def write_reference_outputs(reloaded, crops_nhwc, path):
    """The exported network's raw outputs on the pack's fixture crops, for the TS-side comparison."""
    with torch.no_grad():
        raw = reloaded(torch.from_numpy(crops_nhwc).permute(0, 3, 1, 2)).numpy()
    write_atomic(path, json.dumps({'crops': 'fixture_encoder_crops.npy of the pack', 'raw': np.round(raw, 7).tolist()}))
