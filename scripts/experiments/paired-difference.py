#!/usr/bin/env python3
"""Experiment helper: is one `facegar eval synthetic` run better than another on the same faces?

Reads the progress lines two runs wrote to stderr (`image N/M …; mean-face median A mm; … METHOD
median B mm`) and prints, per pair of logs, the mean per-face change of METHOD's median error in
units of the mean face's mean error (the change in the table's ratio), a 95 % paired-bootstrap
interval for it, and on how many faces the second run is better. Pairs may be given several times
(seed 2 and seed 3); the last line pools them.

    python3 scripts/experiments/paired-difference.py BEFORE.err AFTER.err [BEFORE2.err AFTER2.err …] [--method gar-encoder-init]

Needs numpy only.
"""
import re
import sys

import numpy as np


def per_face(path, method):
    pattern = re.compile(r"image (\d+)/\d+ .*?mean-face median ([\d.]+) mm.*?" + re.escape(method) + r" median ([\d.]+) mm")
    faces = {}
    with open(path, encoding="utf-8") as log:
        for line in log:
            match = pattern.match(line)
            if match:
                faces[int(match.group(1))] = (float(match.group(2)), float(match.group(3)))
    return faces


def summary(label, changes, before, after, rng):
    boots = [changes[rng.integers(0, len(changes), len(changes))].mean() for _ in range(5000)]
    low, high = np.percentile(boots, [2.5, 97.5])
    print(f"{label}: {len(changes)} faces, ratio change {changes.mean():+.4f} (95 % {low:+.4f} … {high:+.4f}), better on {(after < before).sum()} of {len(changes)}")


def main(argv):
    method = "gar-encoder-init"
    if "--method" in argv:
        index = argv.index("--method")
        method = argv[index + 1]
        argv = argv[:index] + argv[index + 2 :]
    if len(argv) < 2 or len(argv) % 2:
        sys.exit(__doc__)
    rng = np.random.default_rng(0)
    pooled = ([], [], [])
    for before_path, after_path in zip(argv[0::2], argv[1::2]):
        before, after = per_face(before_path, method), per_face(after_path, method)
        faces = sorted(set(before) & set(after))
        if not faces:
            sys.exit(f"no face of {method} in both {before_path} and {after_path}")
        mean_face = np.array([before[k][0] for k in faces])
        x = np.array([before[k][1] for k in faces])
        y = np.array([after[k][1] for k in faces])
        changes = (y - x) / mean_face.mean()
        summary(f"{after_path} against {before_path}", changes, x, y, rng)
        for store, values in zip(pooled, (changes, x, y)):
            store.append(values)
    if len(argv) > 2:
        summary("pooled", *(np.concatenate(values) for values in pooled), rng)


if __name__ == "__main__":
    main(sys.argv[1:])
