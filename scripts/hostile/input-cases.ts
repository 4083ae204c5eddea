// Issue 17, items 1–8: hostile inputs and batches.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import type { HostileCase } from './case.ts';

/** The graphics path, few steps: these cases are about the files, not the fit. */
const FAST = ['--renderer', 'graphics', '--landmark-steps', '20', '--photometric-steps', '0', '--workers', '1'];
const PHOTO = '000114.jpg';

interface SummaryLine {
  input: string;
  stem: string;
  status: string;
  exitCode: number;
  outputs: string[];
}
async function summary(out: string): Promise<SummaryLine[]> {
  return (await readFile(join(out, 'summary.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
/** [stem, exit code] of every summary line, sorted. */
const stemsAndCodes = (lines: SummaryLine[]) => JSON.stringify(lines.map((l) => [l.stem, l.exitCode]).sort());

export const INPUT_CASES: HostileCase[] = [
  {
    name: 'fifo-named',
    item: 1,
    title: 'a FIFO given by name fails at once with exit 4',
    async make(dir) {
      execFileSync('mkfifo', [join(dir, 'f.jpg')]);
      return {
        steps: [
          { args: ['reconstruct', join(dir, 'f.jpg'), '--out', join(dir, 'out'), ...FAST], expect: [4], message: /f\.jpg: not a regular file \(a FIFO\)/ },
        ],
      };
    },
  },
  {
    name: 'fifo-in-folder',
    item: 1,
    title: 'a FIFO in a scanned folder, /dev/zero and a missing file: each its own exit code, the batch goes on',
    async make(dir) {
      await mkdir(join(dir, 'scan'));
      execFileSync('mkfifo', [join(dir, 'scan', 'g.jpg')]);
      const out = join(dir, 'out');
      return {
        steps: [
          {
            args: ['reconstruct', join(dir, 'scan'), join(dir, 'missing.jpg'), '/dev/zero', '--out', out, ...FAST],
            expect: [9],
            message: /g\.jpg: not a regular file \(a FIFO\)/,
          },
        ],
        async verify() {
          const lines = stemsAndCodes(await summary(out));
          return lines ===
            JSON.stringify([
              ['g.jpg', 4],
              ['missing.jpg', 3],
              ['zero', 4],
            ])
            ? []
            : [`summary: ${lines}`];
        },
      };
    },
  },
  {
    name: 'dev-zero',
    item: 2,
    title: '/dev/zero as input: exit 4 before reading a byte',
    async make(dir) {
      return {
        steps: [
          {
            args: ['reconstruct', '/dev/zero', '--out', join(dir, 'out'), ...FAST],
            expect: [4],
            message: /\/dev\/zero: not a regular file \(a character device\)/,
          },
        ],
      };
    },
  },
  {
    name: 'huge-sparse-file',
    item: 2,
    title: 'a 300 MiB file is refused before reading (the limit is 256 MiB)',
    async make(dir, data) {
      const big = join(dir, 'big.jpg');
      await copyFile(join(data.photosDir, PHOTO), big);
      await truncate(big, 300 * 1024 * 1024); // sparse: no disk used
      return { steps: [{ args: ['reconstruct', big, '--out', join(dir, 'out'), ...FAST], expect: [4], message: /big\.jpg: file too large \(over 256 MiB\)/ }] };
    },
  },
  {
    name: 'stem-collision',
    item: 3,
    title: 'a.jpg, a.png and a-2.jpg keep their own outputs, and --resume in another order keeps them',
    async make(dir, data) {
      const photo = join(data.photosDir, PHOTO);
      await copyFile(photo, join(dir, 'a.jpg'));
      await sharp(photo).png().toFile(join(dir, 'a.png'));
      await sharp(photo).flop().jpeg().toFile(join(dir, 'a-2.jpg')); // another picture, so an overwrite would show
      const out = join(dir, 'out');
      return {
        steps: [
          { args: ['reconstruct', dir, '--out', out, ...FAST], expect: [0] },
          {
            args: ['reconstruct', join(dir, 'a.png'), join(dir, 'a-2.jpg'), join(dir, 'a.jpg'), '--out', out, '--resume', ...FAST],
            expect: [0],
            message: /3 of 3 reconstructed, 3 already done/,
          },
        ],
        async verify() {
          const problems: string[] = [];
          const lines = await summary(out);
          if (JSON.stringify(lines.map((l) => l.stem).sort()) !== JSON.stringify(['a-2.jpg', 'a.jpg', 'a.png']))
            problems.push(`stems ${lines.map((l) => l.stem)}`);
          for (const line of lines) {
            const json = JSON.parse(await readFile(join(out, `${line.stem}.json`), 'utf8'));
            if (json.input !== line.input) problems.push(`${line.stem}.json holds ${json.input}, not ${line.input}`);
            if (!line.outputs.every((name) => name.startsWith(`${line.stem}.`))) problems.push(`${line.stem}: outputs ${line.outputs}`);
          }
          const [a, flipped] = await Promise.all(['a.jpg', 'a-2.jpg'].map((stem) => readFile(join(out, `${stem}.obj`), 'utf8')));
          if (a === flipped) problems.push('a.jpg.obj and a-2.jpg.obj are the same mesh');
          return problems;
        },
      };
    },
  },
  {
    name: 'max-faces-12',
    item: 4,
    title: '--max-faces 12 on a photo of 12 faces gives 12 meshes; 65 is a usage error',
    async make(dir, data) {
      const names = (await readdir(data.photosDir))
        .filter((n) => n.endsWith('.jpg'))
        .sort()
        .slice(0, 12);
      const tile = 256;
      const tiles = await Promise.all(
        names.map(async (name, i) => ({
          input: await sharp(join(data.photosDir, name)).resize(tile, tile, { fit: 'cover' }).toBuffer(),
          left: (i % 4) * tile,
          top: Math.floor(i / 4) * tile,
        })),
      );
      await sharp({ create: { width: 4 * tile, height: 3 * tile, channels: 3, background: '#808080' } })
        .composite(tiles)
        .jpeg()
        .toFile(join(dir, 'crowd.jpg'));
      const out = join(dir, 'out');
      return {
        steps: [
          {
            args: [
              'reconstruct',
              join(dir, 'crowd.jpg'),
              '--out',
              out,
              '--max-faces',
              '12',
              '--renderer',
              'graphics',
              '--landmark-steps',
              '0',
              '--photometric-steps',
              '0',
            ],
            expect: [0],
            message: /12 faces/,
          },
          { args: ['reconstruct', join(dir, 'crowd.jpg'), '--out', out, '--max-faces', '65'], expect: [2], message: /--max-faces/ },
        ],
        async verify() {
          const meshes = (await readdir(out)).filter((n) => /^crowd\.jpg\.face\d+\.obj$/.test(n));
          return meshes.length === 12 ? [] : [`${meshes.length} face meshes`];
        },
      };
    },
  },
  {
    name: 'reversed-glob',
    item: 5,
    title: 'a glob with a reversed class is a usage error',
    async make(dir) {
      return {
        steps: [
          { args: ['reconstruct', `${dir}/[z-a]*.jpg`, '--out', join(dir, 'out')], expect: [2], message: /bad glob .*\[z-a\]\*\.jpg.*Range out of order/ },
        ],
      };
    },
  },
  {
    name: 'full-disk',
    item: 6,
    title: 'a full disk before summary.jsonl exists: exit 7 naming the file',
    async make(dir, data) {
      const namespace = mountNamespaceArgs();
      if (!namespace) return 'needs unshare --mount (root, or unprivileged user namespaces) to make a full file system';
      const disk = join(dir, 'disk');
      await mkdir(disk);
      // In a mount namespace of its own: a 64 KiB tmpfs over `disk`, filled, then the CLI writes there.
      const fill = 'mount -t tmpfs -o size=64k tmpfs "$FULL_DIR" && { head -c 1048576 /dev/zero > "$FULL_DIR/fill" 2>/dev/null; exec "$@"; }';
      return {
        steps: [
          {
            args: ['reconstruct', join(data.photosDir, PHOTO), '--out', join(disk, 'out'), ...FAST],
            expect: [7],
            message: /cannot write \(ENOSPC\)/,
            wrapper: ['unshare', ...namespace, 'sh', '-c', fill, 'sh'],
            env: { FULL_DIR: disk },
          },
        ],
      };
    },
  },
  {
    name: 'resume-bad-summary',
    item: 7,
    title: 'a --resume summary with "outputs": null, outputs outside --out or a cut line: those inputs are tried again',
    async make(dir) {
      const out = join(dir, 'out');
      await mkdir(out);
      const inputs = ['one.jpg', 'two.jpg', 'three.jpg'].map((name) => join(dir, name));
      for (const input of inputs) await writeFile(input, 'text, not a photo'); // each fails with exit 4 when tried
      const escape = relative(out, '/etc/passwd');
      const forged = [
        { input: inputs[0], stem: 'one.jpg', status: 'ok', exitCode: 0, outputs: null, timingsMs: {} },
        { input: inputs[1], stem: 'two.jpg', status: 'ok', exitCode: 0, outputs: [escape], timingsMs: {} },
        { input: inputs[2], stem: 'three.jpg', status: 'ok', exitCode: 0, outputs: [escape, 'three.jpg.json'], timingsMs: {} },
      ];
      await writeFile(join(out, 'three.jpg.json'), '{}');
      await writeFile(join(out, 'summary.jsonl'), forged.map((line) => JSON.stringify(line)).join('\n') + '\n{"input": "half a li');
      return {
        steps: [{ args: ['reconstruct', ...inputs, '--out', out, '--resume', ...FAST], expect: [4], message: /0 of 3 reconstructed, 3 failed/ }],
        async verify() {
          const lines = stemsAndCodes(await summary(out));
          return lines ===
            JSON.stringify([
              ['one.jpg', 4],
              ['three.jpg', 4],
              ['two.jpg', 4],
            ])
            ? []
            : [`summary: ${lines}`];
        },
      };
    },
  },
  {
    name: 'out-empty',
    item: 8,
    title: '--out "" is refused, nothing is written',
    async make(dir, data) {
      const cwd = join(dir, 'cwd');
      await mkdir(cwd);
      return {
        steps: [{ args: ['reconstruct', join(data.photosDir, PHOTO), '--out', ''], expect: [2], message: /--out is empty/, cwd }],
        async verify() {
          const left = await readdir(cwd);
          return left.length === 0 ? [] : [`wrote ${left}`];
        },
      };
    },
  },
  {
    name: 'out-is-input',
    item: 8,
    title: '--out is the input folder: the next run does not take the overlay PNGs for photos',
    async make(dir, data) {
      await copyFile(join(data.photosDir, PHOTO), join(dir, 'p.jpg'));
      return {
        steps: [
          { args: ['reconstruct', dir, '--out', dir, ...FAST], expect: [0] },
          { args: ['reconstruct', dir, '--out', dir, '--resume', ...FAST], expect: [0], message: /1 of 1 reconstructed, 1 already done/ },
        ],
      };
    },
  },
];

/** `unshare` arguments for a private mount namespace (as root, or in an unprivileged user namespace), or undefined. */
function mountNamespaceArgs(): string[] | undefined {
  const args = ['--mount', ...(process.getuid?.() === 0 ? [] : ['--map-root-user'])];
  const probe = spawnSync(
    'unshare',
    [...args, 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s'],
    { stdio: 'ignore' },
  );
  return probe.status === 0 ? args : undefined;
}
