"""Train facegar's LandmarkRegressor on renders with exact landmarks, on a GPU (or slowly on a CPU).

    python3 scripts/gpu/train_landmarks.py --pack .gpu-pack-landmarks --out OUT --minutes 7

The pack comes from scripts/gpu/export-landmark-pack.ts (it also fixes the network's width). Before
training: parity checks against its TS fixtures (exit 3 on failure). Then the shape encoder's loop
(crop_training.py) on the shape encoder's renders (scenes.py, face_renderer.py, post_process.py), with
yaw up to +-90 deg. Targets: where the model's own 68 landmark vertices project into the crop,
occluded ones included. Framing: half the scenes as the detector frames them (its measured offsets,
widened by --detector-jitter-scale), half from the model's own landmarks under a random similarity
(shift, scale and turn up to 10 % / 0.1 / 0.1 rad: a second pass re-cut around a first pass's
points). Loss: mean point distance in crop px (smoothed below --floor-px). Validation on the pack's
500 studio crops (|yaw| < 60 deg), cut by the real detector, and on --synthetic-val held-out renders
of the training distribution (|yaw| to 90 deg, detector-like framing): NME over the true eye
distance and over the true landmark box, by |yaw| bin, for one pass and for a second pass re-cut
from the crop itself.
Writes into OUT (5 files): train.log, metrics.json (validation history; `exportCheck`: the export's
raw outputs on the pack's fixture crops, for check-landmark-export.ts), samples.png (validation
crops with predicted (green) and true (red) points, then training renders with their targets),
regressor/ (checkpoint.json + float16 safetensors: `facegar reconstruct --landmark-regressor
OUT/regressor`). The export is refreshed at every checkpoint, so a run stopped by a timeout still
leaves one. --resume continues from --state-dir.
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
from face_encoder import LandmarkRegressor  # noqa: E402
from face_renderer import FaceRenderer  # noqa: E402
from landmark_training import target_points, best_passes, describe_metrics, draw_points, export_regressor, held_out_renders, landmark_loss, output_standardisation, predict, reference_outputs, summarise, validate  # noqa: E402
from pack_io import read_safetensors, write_atomic  # noqa: E402
from parity_checks import check_landmark_regressor  # noqa: E402
from post_process import render_photos  # noqa: E402
from scenes import SceneConfig, SceneGeometry, detector_framing_jitter  # noqa: E402

GREEN, RED = (40, 255, 40), (255, 40, 40)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pack', default='.gpu-pack-landmarks', help='landmark training pack (scripts/gpu/export-landmark-pack.ts)')
    add_training_arguments(p, '.gpu-runs/landmarks')
    p.add_argument('--floor-px', type=float, default=0.5, help='the loss is sqrt(d^2 + f^2) - f of each point distance d (crop px)')
    p.add_argument('--own-framing-share', type=float, default=0.5, help='share of scenes framed from the model\'s own landmarks (second pass)')
    p.add_argument('--own-framing-range', type=float, default=0.1, help='that framing\'s random shift (eye distances), log-scale and turn (rad), each up to +-this')
    p.add_argument('--detector-jitter-scale', type=float, default=1.5, help='times the detector\'s measured framing spread (first pass)')
    p.add_argument('--synthetic-val', type=int, default=512, help='held-out renders of the training distribution (yaw to 90 deg, first-pass framing) validated beside the studio crops (0 = none)')
    p.add_argument('--standardisation-scenes', type=int, default=16384, help='scenes (not rendered) the output mean and spread come from')
    return p.parse_args()


def main():
    args = parse_args()
    started = start_run(args, check_landmark_regressor)
    if not started:
        return
    log, device, cuda, pack = started

    info = pack.manifest['landmarks']
    network = info['network']
    crop_px = network['resolution']
    geometry = SceneGeometry(pack, device)
    renderer = FaceRenderer(pack, geometry, device, crop_px, args.supersample)
    config = SceneConfig(landmark_jitter_scale=args.detector_jitter_scale, own_framing_share=args.own_framing_share, own_framing_shift=args.own_framing_range,
                         own_framing_scale=args.own_framing_range, own_framing_turn_rad=args.own_framing_range)
    jitter_mean, jitter_std, detected = detector_framing_jitter(pack.array('studio_val_alignment_offsets_px'), config, device)
    log(f'detector framing offsets from {detected} studio crops: mean {jitter_mean.abs().mean():.2f} px, spread {jitter_std.mean():.2f} px (at {crop_px} px), used x{args.detector_jitter_scale:g}; '
        f'own-landmark framing for {100 * args.own_framing_share:.0f} % of scenes (range {args.own_framing_range:g})')
    val_crops = pack.studio_crops()
    val_x = torch.from_numpy(val_crops).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device).contiguous(memory_format=torch.channels_last)
    val_truth = torch.from_numpy(pack.array('studio_val_landmarks_px')).float().to(device)
    val_yaw = torch.tensor([r['yawDeg'] for r in pack.manifest['studioValidation']['records']], dtype=torch.float32, device=device)

    synthetic = held_out_renders(geometry, renderer, SceneConfig(max_yaw_deg=90.0), args.synthetic_val, min(args.batch, 128), jitter_mean, jitter_std, crop_px, not args.no_shadows, device)
    if synthetic:
        log(f'{args.synthetic_val} held-out renders of the training distribution (|yaw| to 90 deg, detector-like framing) for validation')
    regressor = LandmarkRegressor(network, info['seed'])
    dense_vertices = torch.tensor(info['landmarkVertices'][68:], dtype=torch.long, device=device)
    if len(dense_vertices):
        log(f'{len(dense_vertices)} dense face vertices after iBUG-68 ({network["landmarkCount"]} points)')
    mean, std = output_standardisation(geometry, config, jitter_mean, jitter_std, crop_px, count=args.standardisation_scenes, dense_vertices=dense_vertices)
    regressor.output_mean.copy_(mean.cpu())
    regressor.output_std.copy_(std.cpu())
    log(f'output standardisation from {args.standardisation_scenes} scenes: position spread {float(std.mean()) * crop_px:.1f} px mean over the {len(std)} outputs')
    if args.init_from:
        manifest = json.load(open(os.path.join(args.init_from, 'checkpoint.json')))
        regressor.load_ts_parameters({k[2:]: v for k, v in read_safetensors(os.path.join(args.init_from, manifest['weightsPath'])).items() if k.startswith('L.')})
        log(f'started from {args.init_from} (step {manifest["step"]})')
    trainer = CropTrainer(args, log, regressor, device, cuda)
    constant = summarise(((regressor.output_mean.to(device).view(1, -1, 2)[:, :68] + 0.5) * crop_px).expand_as(val_truth), val_truth, val_yaw)
    log(f'baseline, the mean training landmarks for every crop: NME {constant["nme_io_pct"]:.2f} % of the eye distance, {constant["nme_box_pct"]:.2f} % of the box (studio crops)')
    fixture_crops = pack.array('fixture_landmark_crops')
    samples = []

    def make_batch():
        scenes, x = render_photos(geometry, renderer, config, args.batch, trainer.generator, jitter_mean, jitter_std, crop_px, not args.no_shadows)
        if sum(len(s) for s in samples) < 32:
            take = 32 - sum(len(s) for s in samples)
            samples.append(draw_points(to_uint8(x[:take]), scenes['landmarks_crop_px'][:take].cpu().numpy(), RED))
        return x, target_points(scenes, dense_vertices)

    def loss_of(raw, target_px):
        return landmark_loss(raw, regressor, target_px, crop_px, args.floor_px)

    def measure(ema):
        metrics = {'studio': validate(ema, val_x, val_truth, val_yaw, geometry.template, crop_px)}
        line = f'studio crops (|yaw| < 60, detector-cut): {describe_metrics(metrics["studio"])}'
        if synthetic:
            metrics['synthetic'] = validate(ema, *synthetic, geometry.template, crop_px)
            line += f' | held-out renders (|yaw| to 90): {describe_metrics(metrics["synthetic"])}'
        return metrics, line

    def export(reason):
        history = trainer.history
        notes = {'trainedWith': 'scripts/gpu/train_landmarks.py on synthetic renders of ICT-FaceKit (MIT)', 'minutesTrained': f'{trainer.trained_s / 60:.2f}',
                 'device': torch.cuda.get_device_name(0) if cuda else 'cpu', 'exported': reason, 'points': 'the model landmark vertices projected, occluded ones included',
                 'lastValidation': json.dumps({k: v for k, v in history[-1].items()} if history else {})}
        model = {'name': pack.manifest['model']['name'], 'vertexCount': pack.manifest['model']['faceVertexCount']}
        passes = best_passes(history[-1]['studio']) if history else 1
        notes['passes'] = f'{passes}: the pass count with the lower NME on the studio crops at the last validation (a second pass re-cut from the first crop)'
        name, reloaded = export_regressor(copy.deepcopy(trainer.ema).float().cpu(), os.path.join(args.out, 'regressor'), trainer.step, info['landmarkVertices'], model, notes, passes)
        write_atomic(os.path.join(args.out, 'metrics.json'), json.dumps({'history': history, 'exportCheck': reference_outputs(reloaded, fixture_crops)}, indent=1))
        log(f'exported {name} ({reason})')

    def save_samples():
        shown = predict(trainer.ema, val_x[:8], crop_px).cpu().numpy()
        first = draw_points(draw_points(val_crops[:8], val_truth[:8].cpu().numpy(), RED), shown, GREEN)
        rendered = np.concatenate(samples) if samples else np.zeros((0, crop_px, crop_px, 3), np.uint8)
        save_grid([first] + [rendered[r * 8:(r + 1) * 8] for r in range(len(rendered) // 8)], os.path.join(args.out, 'samples.png'))

    trainer.run(make_batch, loss_of, lambda v: f'{v["distance_px"]:.2f} px', measure, export, save_samples)


if __name__ == '__main__':
    main()
