// Issue 17, items 9–11: model files from users and downloads (the morphable model's folder, GAR
// and encoder checkpoints). Each case copies or links the real files and spoils one thing.
import { createGzip, gzipSync } from 'node:zlib';
import { copyFile, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaseData, CasePlan, HostileCase } from './case.ts';

const PHOTO = '000114.jpg';

/**
 * A model folder under `dir`: every file of the real one linked, except `replaced` (name →
 * contents, or `{ link }` to point the name elsewhere); a replaced name with the other
 * extension (.obj / .obj.gz) of the same file hides that one.
 */
export async function spoiledModelDir(dir: string, data: CaseData, replaced: Record<string, string | Uint8Array | { link: string }>): Promise<string> {
  const model = join(dir, 'model');
  await mkdir(model);
  const base = (name: string) => name.replace(/\.obj(\.gz)?$/, '');
  const replacedBases = new Set(Object.keys(replaced).map(base));
  for (const name of await readdir(data.modelDir)) {
    if (!replacedBases.has(base(name)) && !(name in replaced)) await symlink(join(data.modelDir, name), join(model, name));
  }
  for (const [name, contents] of Object.entries(replaced)) {
    if (typeof contents === 'object' && 'link' in contents) await symlink(contents.link, join(model, name));
    else await writeFile(join(model, name), contents);
  }
  return model;
}

/** vertex_indices.json of the real model, changed by `edit`. */
export async function editedVertexIndices(
  data: CaseData,
  edit: (indices: { expressions: string[]; idx_to_landmark_verts: unknown[] }) => void,
): Promise<string> {
  const indices = JSON.parse(await readFile(join(data.modelDir, 'vertex_indices.json'), 'utf8'));
  edit(indices);
  return JSON.stringify(indices);
}

/** gzip of `totalBytes` zeros, made in 1 MiB pieces (the bomb is small; making it is too). */
async function gzipBomb(totalBytes: number): Promise<Uint8Array> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolveDone) => gzip.on('end', resolveDone));
  const piece = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < totalBytes; written += piece.length) {
    if (!gzip.write(piece)) await new Promise((resolveDrain) => gzip.once('drain', resolveDrain));
  }
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: number[] } | Record<string, string>>;

/** Safetensors bytes with their JSON header changed by `edit` (the data section kept as it is). */
export function editSafetensorsHeader(bytes: Uint8Array, edit: (header: Header, tensorNames: string[]) => void): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Header;
  edit(
    header,
    Object.keys(header).filter((k) => k !== '__metadata__'),
  );
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - headerLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + headerLength), 8 + json.length);
  return out;
}

/**
 * A copy of a shipped checkpoint folder (`gar-small` or `encoder-small`) under `dir`, its
 * manifest and weights changed; the manifest's weightsSha256 is dropped, so the spoiled
 * weights reach the decoder (a hash only catches accidents, not a hostile file).
 */
export async function spoiledCheckpoint(
  dir: string,
  data: CaseData,
  shipped: 'gar-small' | 'encoder-small',
  change: {
    manifest?: (manifest: Record<string, any>) => void;
    weights?: (bytes: Uint8Array) => Uint8Array;
  },
): Promise<string> {
  const target = join(dir, shipped);
  await mkdir(target);
  const manifest = JSON.parse(await readFile(join(data.shippedModelsDir, shipped, 'checkpoint.json'), 'utf8'));
  delete manifest.weightsSha256;
  const weightsName = manifest.weightsPath as string;
  const weights = new Uint8Array(await readFile(join(data.shippedModelsDir, shipped, weightsName)));
  change.manifest?.(manifest);
  await writeFile(join(target, 'checkpoint.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(target, weightsName), change.weights ? change.weights(weights) : weights);
  return target;
}

/** `facegar reconstruct` of one photo with the given extra options, expecting exit 6 and `message`. */
async function reconstructExpecting6(dir: string, data: CaseData, options: string[], message: RegExp): Promise<CasePlan> {
  const photo = join(dir, 'photo.jpg');
  await copyFile(join(data.photosDir, PHOTO), photo);
  return { steps: [{ args: ['reconstruct', photo, '--out', join(dir, 'out'), '--workers', '1', ...options], expect: [6], message }] };
}

const garOnly = (data: CaseData, encoderDir: string) => ['--gar', join(data.shippedModelsDir, 'gar-small'), '--encoder', encoderDir, '--preset', 'instant'];

export const MODEL_CASES: HostileCase[] = [
  {
    name: 'model-expression-escape',
    item: 9,
    title: 'an expression name in vertex_indices.json that leaves the model folder is refused (exit 6)',
    async make(dir, data) {
      const model = await spoiledModelDir(dir, data, {
        'vertex_indices.json': await editedVertexIndices(data, (v) => {
          v.expressions[0] = '../../../../../../../dev/zero';
        }),
      });
      return reconstructExpecting6(dir, data, ['--model', model, '--renderer', 'graphics'], /expression name "\.\.\/.*dev\/zero" is not a plain file name/);
    },
  },
  {
    name: 'model-file-is-device',
    item: 9,
    title: 'a model file that is a link to /dev/zero is refused, not read (exit 6)',
    async make(dir, data) {
      const model = await spoiledModelDir(dir, data, { 'eyeBlink_L.obj': { link: '/dev/zero' } });
      return reconstructExpecting6(dir, data, ['--model', model, '--renderer', 'graphics'], /eyeBlink_L\.obj: not a regular file \(a character device\)/);
    },
  },
  {
    name: 'gar-weights-escape',
    item: 9,
    title: 'a GAR checkpoint.json whose weightsPath leaves its folder is refused (exit 6)',
    async make(dir, data) {
      const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
        manifest: (m) => {
          m.weightsPath = '../../../../../../../dev/zero';
        },
      });
      return reconstructExpecting6(dir, data, ['--gar', gar, '--preset', 'fast'], /weightsPath .*dev\/zero.* is not a file name beside the manifest/);
    },
  },
  {
    name: 'encoder-weights-escape',
    item: 9,
    title: 'an encoder checkpoint.json whose weightsPath leaves its folder is refused (exit 6)',
    async make(dir, data) {
      const encoder = await spoiledCheckpoint(dir, data, 'encoder-small', {
        manifest: (m) => {
          m.weightsPath = '../../../../../../../dev/zero';
        },
      });
      return reconstructExpecting6(dir, data, garOnly(data, encoder), /encoder unavailable: .*weightsPath .* is not a file name beside the manifest/);
    },
  },
  {
    name: 'model-gzip-bomb',
    item: 10,
    title: 'a model .obj.gz that inflates past 64 MiB is refused while inflating (exit 6)',
    async make(dir, data) {
      const model = await spoiledModelDir(dir, data, { 'generic_neutral_mesh.obj.gz': await gzipBomb(100 * 1024 * 1024) });
      return reconstructExpecting6(dir, data, ['--model', model, '--renderer', 'graphics'], /generic_neutral_mesh\.obj\.gz: inflates to more than 64 MiB/);
    },
  },
  {
    name: 'model-mesh-without-faces',
    item: 10,
    title: 'a neutral mesh without faces is refused (exit 6), not written as a 0-face OBJ',
    async make(dir, data) {
      const vertices = 'v 0.1 0.2 0.3\n'.repeat(26719);
      const model = await spoiledModelDir(dir, data, { 'generic_neutral_mesh.obj.gz': gzipSync(vertices) });
      return reconstructExpecting6(dir, data, ['--model', model, '--renderer', 'graphics'], /generic_neutral_mesh\.obj: 0 faces, expected at least the 9230/);
    },
  },
  {
    name: 'model-landmark-out-of-range',
    item: 10,
    title: 'a landmark index past the vertices is refused when loading (exit 6), not a diverged fit',
    async make(dir, data) {
      const model = await spoiledModelDir(dir, data, {
        'vertex_indices.json': await editedVertexIndices(data, (v) => {
          v.idx_to_landmark_verts[12] = 99999;
        }),
      });
      return reconstructExpecting6(
        dir,
        data,
        ['--model', model, '--renderer', 'graphics'],
        /vertex_indices\.json: landmark 12 is vertex 99999, outside the 9409/,
      );
    },
  },
  {
    name: 'safetensors-negative-offset',
    item: 11,
    title: 'safetensors with a negative data offset is refused (exit 6)',
    async make(dir, data) {
      const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
        weights: (bytes) =>
          editSafetensorsHeader(bytes, (header, names) => {
            const entry = header[names[0]] as { data_offsets: number[] };
            entry.data_offsets = [entry.data_offsets[0] - 64, entry.data_offsets[1] - 64];
          }),
      });
      return reconstructExpecting6(
        dir,
        data,
        ['--gar', gar, '--preset', 'fast'],
        /cannot load the GAR \(tensor .*: data offsets \[-?\d+,-?\d+\] are not two byte positions\)/,
      );
    },
  },
  {
    name: 'safetensors-overlap',
    item: 11,
    title: 'safetensors whose tensors share bytes is refused (exit 6), not decoded to noise',
    async make(dir, data) {
      const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
        weights: (bytes) =>
          editSafetensorsHeader(bytes, (header, names) => {
            // Two tensors of one size: the second now reads the first one's bytes.
            type Entry = { shape: number[]; data_offsets: number[] };
            const sizes = new Map<string, string>();
            for (const name of names) {
              const key = (header[name] as Entry).shape.join('x');
              const first = sizes.get(key);
              if (first) {
                (header[name] as Entry).data_offsets = [...(header[first] as Entry).data_offsets];
                return;
              }
              sizes.set(key, name);
            }
          }),
      });
      return reconstructExpecting6(dir, data, ['--gar', gar, '--preset', 'fast'], /data offsets .* overlap another tensor's/);
    },
  },
  {
    name: 'safetensors-shape-mismatch',
    item: 11,
    title: 'safetensors whose shape does not match its byte range is refused (exit 6)',
    async make(dir, data) {
      const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
        weights: (bytes) =>
          editSafetensorsHeader(bytes, (header, names) => {
            (header[names[1]] as { shape: number[] }).shape.push(2);
          }),
      });
      return reconstructExpecting6(dir, data, ['--gar', gar, '--preset', 'fast'], /do not match its shape/);
    },
  },
  {
    name: 'encoder-config-absurd',
    item: 11,
    title: 'an encoder config with channelMax 4096 and hiddenFeatures 262144 is refused before allocating (exit 6)',
    async make(dir, data) {
      const encoder = await spoiledCheckpoint(dir, data, 'encoder-small', {
        manifest: (m) => {
          Object.assign(m.config.network, { channelBase: 65536, channelMax: 4096, hiddenFeatures: 262144 });
        },
      });
      return reconstructExpecting6(dir, data, garOnly(data, encoder), /network config: .*channelMax/);
    },
  },
  {
    name: 'gar-config-past-weights',
    item: 11,
    title: 'a GAR config within bounds but far larger than its weights is refused before allocating (exit 6)',
    async make(dir, data) {
      const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
        manifest: (m) => {
          Object.assign(m.config.network, { resolution: 1024, channelBase: 262144, channelMax: 2048 });
        },
      });
      return reconstructExpecting6(dir, data, ['--gar', gar, '--preset', 'fast'], /the config asks for at least \d+ G_ema weights, the file holds \d+/);
    },
  },
];
