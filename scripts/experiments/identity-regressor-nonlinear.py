#!/usr/bin/env python3
"""Experiment: does a nonlinear map from the identity regressor's features beat its ridge regression?

Reads the matrices of dump-identity-features.ts and prints, per regressor, the square root of the
geometric-effect-weighted squared identity error over the mean face's (about the RMS vertex error
ratio) on the held-out tuning faces, the Cycles test set and the studio test set:

    python3 scripts/experiments/identity-regressor-nonlinear.py DIR [krr|mlp|all]

Training faces: keys under cycles-seed10..13-train/ and studio-1000/, studio-1001/; held out:
cycles-seed2-tune/, cycles-seed3-tune/; test: cycles-seed1/ and studio-1/. Needs numpy only.
"""
import json
import sys

import numpy as np

directory = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else 'all'
keys = json.load(open(f'{directory}/keys.json'))
count = len(keys)
X = np.fromfile(f'{directory}/X.f32', dtype=np.float32).reshape(count, -1).astype(np.float64)
Y = np.fromfile(f'{directory}/Y.f32', dtype=np.float32).reshape(count, 100).astype(np.float64)
effects = np.array(json.load(open(f'{directory}/effects.json')))
group = np.array([k.split('/')[0] for k in keys])
train = np.isin(group, ['studio-1000', 'studio-1001'] + [f'cycles-seed{s}-train' for s in (10, 11, 12, 13)])
held_out = np.isin(group, ['cycles-seed2-tune', 'cycles-seed3-tune'])
cycles_test, studio_test = group == 'cycles-seed1', group == 'studio-1'
Z = (X - X[train].mean(0)) / (X[train].std(0) + 1e-6)


def ratio(predicted, mask):
    error = ((predicted[mask] - Y[mask]) ** 2 * effects).sum(1)
    mean_face = (Y[mask] ** 2 * effects).sum(1)
    return np.sqrt(error.mean() / mean_face.mean())


def report(name, predicted):
    print(f'{name:36s} held out {ratio(predicted, held_out):.3f}  Cycles test {ratio(predicted, cycles_test):.3f}  '
          f'studio test {ratio(predicted, studio_test):.3f}', flush=True)


def ridge(lam, rows, targets):
    design = np.c_[rows, np.ones(len(rows))]
    penalty = lam * np.eye(design.shape[1])
    penalty[-1, -1] = 0
    return np.linalg.solve(design.T @ design + penalty, design.T @ targets)


def apply(weights, rows):
    return np.c_[rows, np.ones(len(rows))] @ weights


print(f'{train.sum()} training, {held_out.sum()} held-out, {cycles_test.sum()} + {studio_test.sum()} test faces')
linear = ridge(10000, Z[train], Y[train])
report('ridge, lambda 1e4 (shipped kind)', apply(linear, Z))

if mode in ('all', 'krr'):
    # Kernel ridge with a Gaussian kernel on the standardised features; bandwidth² = factor × features.
    Ztrain, mean_target = Z[train], Y[train].mean(0)

    def kernel(a, b, width2):
        distance2 = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None] - 2 * a @ b.T
        return np.exp(-np.maximum(distance2, 0) / (2 * width2))

    for factor in (0.5, 1, 2):
        width2 = factor * Z.shape[1]
        gram = kernel(Ztrain, Ztrain, width2)
        for lam in (0.1, 1, 10):
            alpha = np.linalg.solve(gram + lam * np.eye(len(gram)), Y[train] - mean_target)
            report(f'kernel ridge, width² {factor}·F, lambda {lam}', kernel(Z, Ztrain, width2) @ alpha + mean_target)

if mode in ('all', 'mlp'):
    # One hidden ReLU layer on top of the ridge prediction (it learns the residual), dropout, Adam;
    # the epoch with the best held-out ratio is kept.
    rng = np.random.default_rng(0)
    weight = effects / effects.mean()
    for hidden, decay, drop in ((512, 1e-3, 0.5), (256, 1e-2, 0.3)):
        W1 = rng.normal(0, 1 / np.sqrt(Z.shape[1]), (Z.shape[1], hidden))
        b1, W2, b2 = np.zeros(hidden), np.zeros((hidden, 100)), np.zeros(100)
        params = [W1, b1, W2, b2]
        first, second = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
        Ztrain, residual = Z[train], Y[train] - apply(linear, Z[train])
        step, best = 0, (np.inf, None, -1)
        for epoch in range(40):
            order = rng.permutation(len(Ztrain))
            for start in range(0, len(order), 128):
                batch = order[start:start + 128]
                x, y = Ztrain[batch], residual[batch]
                h = np.maximum(x @ W1 + b1, 0)
                mask = (rng.random(h.shape) > drop) / (1 - drop)
                hd = h * mask
                g = (hd @ W2 + b2 - y) * weight / len(batch)
                gh = g @ W2.T * mask * (h > 0)
                grads = [x.T @ gh + decay * W1, gh.sum(0), hd.T @ g + decay * W2, g.sum(0)]
                step += 1
                for j, (p, gr) in enumerate(zip(params, grads)):
                    first[j] = 0.9 * first[j] + 0.1 * gr
                    second[j] = 0.999 * second[j] + 0.001 * gr ** 2
                    p -= 1e-3 * (first[j] / (1 - 0.9 ** step)) / (np.sqrt(second[j] / (1 - 0.999 ** step)) + 1e-8)
            predicted = apply(linear, Z) + np.maximum(Z @ W1 + b1, 0) @ W2 + b2
            score = ratio(predicted, held_out)
            if score < best[0]:
                best = (score, predicted.copy(), epoch)
        report(f'ridge + MLP residual, {hidden} hidden (epoch {best[2]})', best[1])
