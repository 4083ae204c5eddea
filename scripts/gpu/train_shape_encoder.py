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
import contextlib
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from face_encoder import FaceEncoder  # noqa: E402
from face_renderer import FaceRenderer  # noqa: E402
from pack_io import Pack, read_safetensors, write_atomic  # noqa: E402
from parity_checks import run_parity_checks  # noqa: E402
from post_process import camera_effects  # noqa: E402
from scenes import SceneConfig, SceneGeometry, sample_scenes  # noqa: E402
from shape_training import OutputLayout, export_encoder, identity_mode_ranking, shape_loss, validate, write_reference_outputs  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pack', default='.gpu-pack', help='training pack folder (scripts/gpu/export-training-pack.ts)')
    p.add_argument('--out', required=True, help='output folder (log, samples, metrics, encoder/)')
    p.add_argument('--minutes', type=float, default=7.0, help='training time budget, minutes (startup and export come on top)')
    p.add_argument('--steps', type=int, default=0, help='stop after this many steps (0 = time budget only)')
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--warmup-steps', type=int, default=200)
    p.add_argument('--ema-beta', type=float, default=0.999)
    p.add_argument('--supersample', type=int, default=2, help='render at this many times the crop side, then average')
    p.add_argument('--no-shadows', action='store_true', help='skip the cast-shadow map')
    p.add_argument('--shape-weight', type=float, default=0.2, help='per mm of mean face-area vertex distance (model space)')
    p.add_argument('--posed-weight', type=float, default=0.02, help='per mm of mean posed face-area vertex distance')
    p.add_argument('--val-every', type=int, default=250)
    p.add_argument('--log-every', type=int, default=25)
    p.add_argument('--checkpoint-minutes', type=float, default=2.0, help='save the resume state and refresh the export this often')
    p.add_argument('--state-dir', default='.gpu-runs/shape-encoder', help='resume state (not for $OUT: it holds Adam moments)')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--init-from', default='', help='exported encoder folder to start from (weights only)')
    p.add_argument('--compile', action='store_true', help='torch.compile the encoder (falls back to eager on any failure)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='auto')
    p.add_argument('--threads', type=int, default=0, help='CPU threads (0 = torch default)')
    p.add_argument('--parity-only', action='store_true')
    return p.parse_args()


class Log:
    def __init__(self, path):
        self.file = open(path, 'a')
        self.started = time.time()

    def __call__(self, line):
        text = f'[{time.time() - self.started:7.1f} s] {line}'
        print(text, flush=True)
        self.file.write(text + '\n')
        self.file.flush()


def learning_rate(args, step, progress):
    warm = min(1.0, (step + 1) / args.warmup_steps)
    return args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def save_grid(rows, path):
    from PIL import Image
    grid = np.concatenate([np.concatenate(list(row), 1) for row in rows], 0)
    Image.fromarray(grid).save(path + '.tmp.png')
    os.replace(path + '.tmp.png', path)


def to_uint8(images_nchw):
    return ((images_nchw.float() + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, 'train.log'))
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' else args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.startswith('cuda')
    log(f'torch {torch.__version__}, device {device}' + (f' ({torch.cuda.get_device_name(0)})' if cuda else '') + f', numpy {np.__version__}')
    pack = Pack(args.pack)
    if cuda:  # exact float32 for the parity checks
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if not run_parity_checks(pack, device, log):
        log('parity checks FAILED: not training (see the lines above)')
        sys.exit(3)
    log('parity checks passed')
    if args.parity_only:
        return
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    network = pack.manifest['network']
    crop_px = network['resolution']
    layout = OutputLayout(network)
    geometry = SceneGeometry(pack, device)
    renderer = FaceRenderer(pack, geometry, device, crop_px, args.supersample)
    config = SceneConfig()
    # The detector's framing error, measured on the pack's studio renders (crop px of the true framing).
    val_crops, val_targets, offsets = pack.studio_validation()
    detected = ~np.isnan(offsets).any((1, 2))
    jitter_mean = torch.from_numpy(np.nanmean(offsets[detected], 0) if detected.any() else np.zeros((4, 2), np.float32)).float().to(device)
    jitter_std = torch.from_numpy(np.maximum(np.nanstd(offsets[detected], 0) if detected.sum() > 1 else np.zeros((4, 2)), config.min_jitter_px)).float().to(device)
    log(f'detector framing offsets from {int(detected.sum())}/{len(offsets)} studio crops: mean {jitter_mean.abs().mean():.2f} px, spread {jitter_std.mean():.2f} px (at {crop_px} px)')
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
    encoder = encoder.to(device).to(memory_format=torch.channels_last)
    ema = copy.deepcopy(encoder).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    step, trained_s, history = 0, 0.0, []
    state_path = os.path.join(args.state_dir, 'state.pt')
    if args.resume and os.path.exists(state_path):
        state = torch.load(state_path, map_location='cpu', weights_only=False)
        encoder.load_state_dict(state['encoder'])
        ema.load_state_dict(state['ema'])
        optimiser.load_state_dict(state['optimiser'])
        generator.set_state(state['generator'])
        step, trained_s, history = state['step'], state['trained_s'], state['history']
        log(f'resumed from {state_path} at step {step} ({trained_s / 60:.1f} min trained)')
    model = encoder
    if args.compile and hasattr(torch, 'compile'):
        try:
            model = torch.compile(encoder)
        except Exception as error:  # a compile failure must never end the run
            log(f'torch.compile unavailable ({str(error).splitlines()[0][:200]}): eager')
    weights = {'parameter': 1.0, 'shape': args.shape_weight, 'posed': args.posed_weight}
    train_config = {'batchSize': args.batch, 'learningRate': args.lr, 'seed': args.seed, 'parameterWeight': 1, 'vertexWeight': args.posed_weight,
                    'vertexSubsample': geometry.face_vertex_count, 'rerenderWeight': 0, 'truncationPsi': 1, 'statisticsSamples': 0}
    w_avg = np.array(pack.manifest['wAvg'], dtype=np.float32)
    fixture_crops = pack.array('fixture_encoder_crops')
    samples = None

    def export(reason):
        notes = {'trainedWith': 'scripts/gpu/train_shape_encoder.py on synthetic renders of ICT-FaceKit (MIT)', 'w': 'untrained: the outputs equal the GAR mean latent w_avg of ' + pack.manifest['gar']['weightsPath'],
                 'minutesTrained': f'{trained_s / 60:.2f}', 'device': torch.cuda.get_device_name(0) if cuda else 'cpu', 'exported': reason,
                 'lastValidation': json.dumps({k: v for k, v in history[-1].items() if k != 'identity_rms_per_mode'} if history else {}),
                 'identityErrorStd': f'RMS identity error per mode on the pack\'s {len(val_x)} held-out studio crops at the last validation'}
        cpu_ema = copy.deepcopy(ema).float().cpu()
        errors = history[-1]['identity_rms_per_mode'] if history else None
        name, reloaded = export_encoder(cpu_ema, layout, w_avg, os.path.join(args.out, 'encoder'), step, notes, train_config, errors)
        write_reference_outputs(reloaded, fixture_crops, os.path.join(args.out, 'encoder', 'pytorch-outputs.json'))
        write_atomic(os.path.join(args.out, 'metrics.json'), json.dumps(history, indent=1))
        log(f'exported {name} ({reason})')

    def checkpoint():
        os.makedirs(args.state_dir, exist_ok=True)
        torch.save({'encoder': encoder.state_dict(), 'ema': ema.state_dict(), 'optimiser': optimiser.state_dict(), 'generator': generator.get_state(),
                    'step': step, 'trained_s': trained_s, 'history': history}, state_path + '.tmp')
        os.replace(state_path + '.tmp', state_path)

    def run_validation():
        metrics = validate(ema, layout, geometry, val_x, val_t, top_modes)
        metrics['step'] = step
        history.append(metrics)
        log(f'val step {step}: median {metrics["median_mm"]:.2f} mm vs mean face {metrics["mean_face_median_mm"]:.2f} (ratio {metrics["ratio_to_mean_face"]:.3f}), '
            f'identity corr {metrics["identity_correlation"]:.3f} (top-20 {metrics["identity_correlation_top20"]:.3f}), focal err {metrics["focal_error_median_pct"]:.1f} %, '
            f'yaw err {metrics["yaw_error_median_deg"]:.1f} deg, param loss {metrics["parameter_loss"]:.3f}')

    if step == 0:
        run_validation()
    budget_s = args.minutes * 60
    interval_start, interval_images, last_checkpoint = time.time(), 0, time.time()
    render_s = train_s = 0.0
    log(f'training: batch {args.batch}, {args.minutes:g} min' + (f' or {args.steps} steps' if args.steps else '') + f', supersample {args.supersample}, shadows {not args.no_shadows}')
    while trained_s < budget_s and (not args.steps or step < args.steps):
        loop_start = time.time()
        with torch.no_grad():
            scenes = sample_scenes(geometry, config, args.batch, generator, jitter_mean, jitter_std, crop_px)
            x = camera_effects(renderer.render(scenes, generator, shadows=not args.no_shadows), generator).contiguous(memory_format=torch.channels_last)
        if samples is None or len(samples) < 64:
            fresh = to_uint8(x[:64])
            samples = fresh if samples is None else np.concatenate([samples, fresh])[:64]
        if cuda and step < 8:
            torch.cuda.synchronize()
        rendered = time.time()
        for group in optimiser.param_groups:
            group['lr'] = learning_rate(args, step, trained_s / budget_s)
        targets = {'identity': scenes['identity'], 'expression': scenes['expression'], 'pose': scenes['pose']}
        try:
            with torch.autocast('cuda', dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
                raw = model(x)
            loss, terms = shape_loss(raw.float(), encoder, layout, geometry, targets, weights)
        except Exception as error:
            if model is encoder:
                raise
            log(f'torch.compile failed at the first step ({str(error).splitlines()[0][:200]}): eager from here')
            model = encoder
            continue
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 5.0)
        optimiser.step()
        with torch.no_grad():
            beta = min(args.ema_beta, (1 + step) / (10 + step))
            for e, p in zip(ema.parameters(), encoder.parameters()):
                e.lerp_(p.detach(), 1 - beta)
        step += 1
        interval_images += args.batch
        if cuda and step <= 8:
            torch.cuda.synchronize()
        if step <= 8 and step > 2:  # separate timings while the clock is synchronised
            render_s += rendered - loop_start
            train_s += time.time() - rendered
            if step == 8:
                log(f'timing over steps 3-8: render {1000 * render_s / 6:.0f} ms, train step {1000 * train_s / 6:.0f} ms per batch of {args.batch}')
        trained_s += time.time() - loop_start
        if step % args.log_every == 0:
            values = {k: float(v) for k, v in terms.items()}
            rate = interval_images / (time.time() - interval_start)
            log(f'step {step}: loss {float(loss):.4f} (param {values["parameter"]:.3f}, shape {values["shape_mm"]:.2f} mm, posed {values["posed_mm"]:.2f} mm), '
                f'lr {optimiser.param_groups[0]["lr"]:.2e}, {rate:.1f} images/s, {trained_s / 60:.2f} min')
            interval_start, interval_images = time.time(), 0
        if step % args.val_every == 0:
            run_validation()
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            if history[-1]['step'] != step:
                run_validation()  # the export's identityErrorStd is measured on the weights it holds
            checkpoint()
            export(f'checkpoint at step {step}')
            save_grid([to_uint8(val_x[:8])] + [samples[r * 8:(r + 1) * 8] for r in range(len(samples) // 8)], os.path.join(args.out, 'samples.png'))
            last_checkpoint = time.time()
    if not history or history[-1]['step'] != step:
        run_validation()
    checkpoint()
    export(f'final, step {step}')
    save_grid([to_uint8(val_x[:8])] + [samples[r * 8:(r + 1) * 8] for r in range(len(samples) // 8)], os.path.join(args.out, 'samples.png'))
    log(f'done: {step} steps, {step * args.batch} images, {trained_s / 60:.2f} min of training')


if __name__ == '__main__':
    main()
