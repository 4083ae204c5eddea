"""Train facegar's FaceEncoder on renders of known geometry, on a GPU (or slowly on a CPU).

    python3 scripts/gpu/train_shape_encoder.py --pack .gpu-pack --out OUT --minutes 7

Before training: parity checks against the pack's TS fixtures (exit 3 on failure). Then, until
--minutes of training or --steps: random scenes -> crop renders -> camera effects -> encoder,
loss (shape_training.py), Adam with warm-up and cosine decay over the time budget, an EMA of the
weights (what is exported and validated), bf16 autocast and channels_last on CUDA. Writes into OUT:
train.log, metrics.json (validation history), samples.png (studio crops on top, then training
renders), encoder/ (checkpoint.json + float16 safetensors: `facegar reconstruct --encoder
OUT/encoder`; pytorch-outputs.json for the TS comparison). The export is refreshed at every
checkpoint, so a run stopped by a timeout still leaves one. --resume continues from
--state-dir (Adam state and all); --init-from starts from an exported encoder folder.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crop_training import CropTrainer, add_training_arguments, save_grid, start_run, to_uint8  # noqa: E402
from face_encoder import FaceEncoder  # noqa: E402
from face_renderer import FaceRenderer  # noqa: E402
from pack_io import read_safetensors, write_atomic  # noqa: E402
from post_process import render_photos  # noqa: E402
from scenes import SceneConfig, SceneGeometry, detector_framing_jitter  # noqa: E402
from shape_training import OutputLayout, export_encoder, identity_mode_ranking, shape_loss, validate, write_reference_outputs  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pack', default='.gpu-pack', help='training pack folder (scripts/gpu/export-training-pack.ts)')
    add_training_arguments(p, '.gpu-runs/shape-encoder')
    p.add_argument('--shape-weight', type=float, default=0.2, help='per mm of mean face-area vertex distance (model space)')
    p.add_argument('--posed-weight', type=float, default=0.02, help='per mm of mean posed face-area vertex distance')
    return p.parse_args()


def main():
    args = parse_args()
    started = start_run(args)
    if not started:
        return
    log, device, cuda, pack = started

    network = pack.manifest['network']
    crop_px = network['resolution']
    layout = OutputLayout(network)
    geometry = SceneGeometry(pack, device)
    renderer = FaceRenderer(pack, geometry, device, crop_px, args.supersample)
    config = SceneConfig()
    # The detector's framing error, measured on the pack's studio renders (crop px of the true framing).
    val_crops, val_targets, offsets = pack.studio_validation()
    jitter_mean, jitter_std, detected = detector_framing_jitter(offsets, config, device)
    log(f'detector framing offsets from {detected}/{len(offsets)} studio crops: mean {jitter_mean.abs().mean():.2f} px, spread {jitter_std.mean():.2f} px (at {crop_px} px)')
    val_x = torch.from_numpy(val_crops).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device).contiguous(memory_format=torch.channels_last)
    val_t = torch.from_numpy(val_targets).float().to(device)
    top_modes = identity_mode_ranking(geometry)

    encoder = FaceEncoder(network, network['seed'])
    standardisation = pack.manifest['outputStandardisation']
    encoder.output_mean.copy_(torch.tensor(standardisation['mean']))
    encoder.output_std.copy_(torch.tensor(standardisation['std']))
    if args.init_from:
        manifest = json.load(open(os.path.join(args.init_from, 'checkpoint.json')))
        encoder.load_ts_parameters({k[2:]: v for k, v in read_safetensors(os.path.join(args.init_from, manifest['weightsPath'])).items() if k.startswith('E.')})
        log(f'started from {args.init_from} (step {manifest["step"]})')
    trainer = CropTrainer(args, log, encoder, device, cuda)
    weights = {'parameter': 1.0, 'shape': args.shape_weight, 'posed': args.posed_weight}
    train_config = {'batchSize': args.batch, 'learningRate': args.lr, 'seed': args.seed, 'parameterWeight': 1, 'vertexWeight': args.posed_weight,
                    'vertexSubsample': geometry.face_vertex_count, 'rerenderWeight': 0, 'truncationPsi': 1, 'statisticsSamples': 0}
    w_avg = np.array(pack.manifest['wAvg'], dtype=np.float32)
    fixture_crops = pack.array('fixture_encoder_crops')
    samples = []

    def make_batch():
        scenes, x = render_photos(geometry, renderer, config, args.batch, trainer.generator, jitter_mean, jitter_std, crop_px, not args.no_shadows)
        if sum(len(s) for s in samples) < 64:
            samples.append(to_uint8(x[:64 - sum(len(s) for s in samples)]))
        return x, {'identity': scenes['identity'], 'expression': scenes['expression'], 'pose': scenes['pose']}

    def loss_of(raw, targets):
        return shape_loss(raw, encoder, layout, geometry, targets, weights)

    def describe(values):
        return f'param {values["parameter"]:.3f}, shape {values["shape_mm"]:.2f} mm, posed {values["posed_mm"]:.2f} mm'

    def measure(ema):
        metrics = validate(ema, layout, geometry, val_x, val_t, top_modes)
        return metrics, (f'median {metrics["median_mm"]:.2f} mm vs mean face {metrics["mean_face_median_mm"]:.2f} (ratio {metrics["ratio_to_mean_face"]:.3f}), '
                         f'identity corr {metrics["identity_correlation"]:.3f} (top-20 {metrics["identity_correlation_top20"]:.3f}), focal err {metrics["focal_error_median_pct"]:.1f} %, '
                         f'yaw err {metrics["yaw_error_median_deg"]:.1f} deg, param loss {metrics["parameter_loss"]:.3f}')

    def export(reason):
        history = trainer.history
        notes = {'trainedWith': 'scripts/gpu/train_shape_encoder.py on synthetic renders of ICT-FaceKit (MIT)', 'w': 'untrained: the outputs equal the GAR mean latent w_avg of ' + pack.manifest['gar']['weightsPath'],
                 'minutesTrained': f'{trainer.trained_s / 60:.2f}', 'device': torch.cuda.get_device_name(0) if cuda else 'cpu', 'exported': reason,
                 'lastValidation': json.dumps({k: v for k, v in history[-1].items() if k != 'identity_rms_per_mode'} if history else {}),
                 'identityErrorStd': f'RMS identity error per mode on the pack\'s {len(val_x)} held-out studio crops at the last validation'}
        cpu_ema = copy.deepcopy(trainer.ema).float().cpu()
        errors = history[-1]['identity_rms_per_mode'] if history else None
        name, reloaded = export_encoder(cpu_ema, layout, w_avg, os.path.join(args.out, 'encoder'), trainer.step, notes, train_config, errors)
        write_reference_outputs(reloaded, fixture_crops, os.path.join(args.out, 'encoder', 'pytorch-outputs.json'))
        write_atomic(os.path.join(args.out, 'metrics.json'), json.dumps(history, indent=1))
        log(f'exported {name} ({reason})')

    def save_samples():
        rendered = np.concatenate(samples) if samples else np.zeros((0, crop_px, crop_px, 3), np.uint8)
        save_grid([to_uint8(val_x[:8])] + [rendered[r * 8:(r + 1) * 8] for r in range(len(rendered) // 8)], os.path.join(args.out, 'samples.png'))

    trainer.run(make_batch, loss_of, describe, measure, export, save_samples)


if __name__ == '__main__':
    main()
