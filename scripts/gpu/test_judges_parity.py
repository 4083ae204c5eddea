"""Parity of the torch FaceMesh / FaceRes judges (gar_judges.py, tfjs_graph.py) with TF.js, on the
fixture export-judges.ts writes beside the graphs.

  python3 scripts/gpu/test_judges_parity.py [.gpu-pack-gar/judges] [--device cuda] [--tolerance 1e-3]

Landmarks are compared in crop pixels after dividing by the crop side (so the tolerance reads as a
fraction of the crop, like the other outputs' absolute units); exits 1 above the tolerance.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gar_checkpoint import decode_safetensors, read_file  # noqa: E402
from gar_judges import FaceEmbedder, FaceMeshLandmarks, identity_contrastive_loss, landmark_consistency_loss, load_judges_spec  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('directory', nargs='?', default='.gpu-pack-gar/judges')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--tolerance', type=float, default=1e-3)
    args = parser.parse_args()
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    tensors, meta = decode_safetensors(read_file(os.path.join(args.directory, 'parity-judges.safetensors')))
    spec = load_judges_spec(args.directory)
    t = lambda name: torch.from_numpy(tensors[name]).to(args.device)  # noqa: E731
    images = t('in.images').permute(0, 3, 1, 2)
    R = images.shape[2]
    results = []
    with torch.no_grad():
        facemesh = FaceMeshLandmarks(args.directory, spec).to(args.device)
        points = facemesh(images)
        results.append(('FaceMesh iBUG-68 points / crop side', ((points - t('out.ibug68')).abs().max() / R).item()))
        loss = landmark_consistency_loss(points, t('in.landmarks2d'))
        results.append(('landmark-consistency loss', (loss - t('out.landmark_loss')[0]).abs().item()))
        # A pack without FaceRes (identity loss off, to fit the carry limit) checks FaceMesh only.
        if 'out.embeddings' in tensors and os.path.exists(os.path.join(args.directory, 'faceres.json')):
            embedder = FaceEmbedder(args.directory, spec).to(args.device)
            embeddings = embedder((images * 0.5 + 0.5).clamp(0, 1))
            results.append(('FaceRes embeddings (unit length)', (embeddings - t('out.embeddings')).abs().max().item()))
            groups = [0, 0, 1, 1]
            ic = spec['identityConsistency']
            loss = identity_contrastive_loss(embeddings, groups, ic['margin'], ic['negativeWeight'])
            results.append(('identity contrastive loss', (loss - t('out.identity_loss')[0]).abs().item()))
    ok = all(d <= args.tolerance for _, d in results)
    print(f'{args.directory} (TF.js backend {meta.get("backend")}, torch {torch.__version__} on {args.device}):')
    for name, d in results:
        print(f'  {name:44s} max |Δ| {d:.2e}  {"ok" if d <= args.tolerance else "MISMATCH"}')
    print('judges parity: ok' if ok else 'judges parity: MISMATCH')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
