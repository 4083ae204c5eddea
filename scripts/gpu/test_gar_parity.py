"""Parity of the torch GAR (gar_torch.py) with TF.js, on fixtures from export-gar-parity.ts.

  python3 scripts/gpu/test_gar_parity.py [.gpu-pack-gar/parity-small.safetensors …] [--device cuda] [--tolerance 1e-3]
  python3 scripts/gpu/test_gar_parity.py FIXTURE --render-export GAR_DIR --to FILE
      (torch render of an exported GAR, for: node --import tsx scripts/gpu/export-gar-parity.ts
       --check-export GAR_DIR --torch-render FILE)

Loads each fixture's weights into the torch networks, runs the fixture's inputs and prints the
largest absolute difference per output; exits 1 on any difference above the tolerance (the device
wrapper runs this before training and stops on a mismatch).
"""
import argparse
import glob
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gar_checkpoint import decode_safetensors, encode_safetensors, load_group, read_checkpoint_dir, read_file, write_file_atomic  # noqa: E402
from gar_torch import Discriminator, Generator, NormalEstimator, normal_cosine_loss  # noqa: E402


def nchw(array, device):
    return torch.from_numpy(array).to(device).permute(0, 3, 1, 2)


def check_fixture(path, device, tolerance, estimator_dir=None):
    tensors, meta = decode_safetensors(read_file(path))
    if estimator_dir:  # the estimator training will use must be the one the fixture checks
        manifest_path = os.path.join(estimator_dir, 'checkpoint.json')
        with open(manifest_path) as f:
            weights = read_file(os.path.join(estimator_dir, json.load(f)['weightsPath']))
        if hashlib.sha256(weights).hexdigest() != meta.get('normalEstimatorSha256'):
            print(f'{path}: made without (or with another) normal estimator than {estimator_dir}: '
                  f'rerun export-gar-parity.ts --normal-estimator {estimator_dir}')
            return False
    network = json.loads(meta['network'])
    cutoff, psi = int(meta['mixingCutoff']), float(meta['truncationPsi'])
    t = lambda name: torch.from_numpy(tensors[name]).to(device)  # noqa: E731
    normals = nchw(tensors['in.normals'], device)
    results = []

    def compare(name, ours, theirs):
        difference = (ours.detach().float() - theirs).abs().max().item()
        scale = theirs.abs().max().item()
        results.append((name, difference, scale))

    torch.backends.cudnn.allow_tf32 = False  # parity in true fp32; training may use TF32
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        for group in meta['generators'].split(','):
            g = Generator(network).to(device)
            if group == 'G_ship':  # the shipped model's own file, checked against the fixture's SHA-256
                shipped = read_checkpoint_dir(meta['shippedGar'])
                if shipped is None or shipped[0].get('weightsSha256', meta['shippedGarSha256']) != meta['shippedGarSha256']:
                    raise SystemExit(f'{meta["shippedGar"]}: not the shipped GAR the fixture was made from')
                load_group(g, shipped[1], 'G_ema')
            else:
                load_group(g, tensors, group)
            ws = g.map_latents(t('in.z'))
            compare(f'{group} ws', ws, t(f'out.{group}.ws'))
            compare(f'{group} image', g.synthesize(ws, normals).permute(0, 2, 3, 1), t(f'out.{group}.image'))
            ws_mixed = g.map_latents(t('in.z'), truncation_psi=psi, mixing_z=t('in.mixing_z'), mixing_cutoff=cutoff)
            compare(f'{group} ws (ψ {psi}, mixing at {cutoff})', ws_mixed, t(f'out.{group}.ws_mixed'))
            compare(f'{group} image (ψ {psi}, mixing)', g.synthesize(ws_mixed, normals).permute(0, 2, 3, 1), t(f'out.{group}.image_mixed'))
        d = Discriminator(network).to(device)
        load_group(d, tensors, 'D')
        d_images = nchw(tensors['in.d_images'], device)
        compare('D logits (batch 8, mbstd group 4)', d(d_images), t('out.D.logits'))
        n = NormalEstimator(json.loads(meta['normalEstimator'])).to(device)
        load_group(n, tensors, 'N')
        predicted = n(d_images)
        compare('normal estimator', predicted.permute(0, 2, 3, 1), t('out.N.normals'))
        compare('normal-consistency loss', normal_cosine_loss(predicted[:normals.shape[0]], normals).reshape(1), t('out.N.loss'))
    ok = True
    print(f'{path} (TF.js backend {meta.get("backend")}, torch {torch.__version__} on {device}):')
    for name, difference, scale in results:
        good = difference <= tolerance
        ok = ok and good
        print(f'  {name:44s} max |Δ| {difference:.2e}  (max |value| {scale:.3g})  {"ok" if good else "MISMATCH"}')
    return ok


def render_export(gar_dir, fixture, out_path, device):
    """Render the fixture's normal maps and z through `gar_dir`'s G_ema in torch, for export-gar-parity.ts --check-export."""
    manifest, weights = read_checkpoint_dir(gar_dir)
    tensors, _ = decode_safetensors(read_file(fixture))
    g = Generator(manifest['config']['network']).to(device)
    load_group(g, weights, 'G_ema')
    normals, z = tensors['in.normals'], tensors['in.z']
    with torch.no_grad():
        image = g(nchw(normals, device), torch.from_numpy(z).to(device)).permute(0, 2, 3, 1)
    write_file_atomic(out_path, encode_safetensors([('normals', normals), ('z', z), ('image', image)], {'gar': gar_dir}))
    print(f'{out_path}: torch render of {gar_dir} (step {manifest["step"]}) on {fixture}\'s inputs')
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('fixtures', nargs='*')
    parser.add_argument('--render-export', metavar='GAR_DIR', help='instead: render GAR_DIR in torch on the first fixture\'s inputs into --to')
    parser.add_argument('--to', metavar='FILE')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--tolerance', type=float, default=1e-3)
    parser.add_argument('--normal-estimator', metavar='DIR', help='also require that the fixture holds this normal estimator\'s weights')
    args = parser.parse_args()
    fixtures = args.fixtures or sorted(glob.glob('.gpu-pack-gar/parity-*.safetensors'))
    if args.render_export and fixtures:
        return render_export(args.render_export, fixtures[0], args.to, args.device)
    if not fixtures:
        print('no parity fixtures: make them with node --import tsx scripts/gpu/export-gar-parity.ts', file=sys.stderr)
        return 3
    ok = all([check_fixture(path, args.device, args.tolerance, args.normal_estimator) for path in fixtures])
    print('parity: ok' if ok else 'parity: MISMATCH')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
