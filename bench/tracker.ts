// Benchmark of the live-video tracker (Reconstructor.createTracker) in Node (wasm): an example
// photo drifting ±60 px across a 640×480 frame in a 40-frame cycle, tracked every `stride`-th
// frame (a stride of 7 is what ~2 tracked frames per second of a 15 fps camera see). Prints the
// median and worst landmark error (% of the eye distance) and the per-frame wall and CPU times.
// Usage: node --import tsx bench/tracker.ts [--photo 000002.jpg] [--stride 7] [--frames 40] [--steps 4] [--rate 0.01] [--encoder-interval 4]
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Reconstructor, initBackend } from '../src/index.ts';
import { loadReconstructorResources } from '../src/io/node/index.ts';
import { driftOffsetPx, frameWithFaceAt, loadFacePicture } from '../test/helpers/moving-face.ts';
import { photosDir } from '../test/helpers/shared-data.ts';

export async function benchTracker(
  options: { photo?: string; stride?: number; frames?: number; landmarkSteps?: number; learningRate?: number; encoderInterval?: number } = {},
): Promise<Record<string, unknown>> {
  await initBackend({ backend: 'wasm' });
  const reconstructor = await Reconstructor.create(await loadReconstructorResources({ renderer: 'gar' }));
  const tracker = reconstructor.createTracker({
    landmarkSteps: options.landmarkSteps,
    learningRate: options.learningRate,
    encoderInterval: options.encoderInterval,
  });
  const picture = await loadFacePicture(join(photosDir, options.photo ?? '000002.jpg'), 384);
  const stride = options.stride ?? 7;
  const errorsPercent: number[] = [];
  const frameMs: number[] = [];
  let lost = 0;
  let followedCpuUs = 0;
  try {
    for (let k = 0; k < (options.frames ?? 40); k++) {
      const frame = frameWithFaceAt(picture, driftOffsetPx(stride * k, 60, 40));
      const cpu = process.cpuUsage();
      const tracked = await tracker.track(frame);
      const used = process.cpuUsage(cpu);
      if (k > 0) followedCpuUs += used.user + used.system;
      if (!tracked) {
        lost++;
        continue;
      }
      errorsPercent.push((100 * tracked.landmarkErrorPx) / tracked.interOcularPx);
      if (k > 0) frameMs.push(tracked.timingsMs.total);
    }
  } finally {
    tracker.dispose();
    reconstructor.dispose();
  }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    stride,
    encoderInterval: options.encoderInterval ?? 4,
    frames: errorsPercent.length + lost,
    lost,
    landmarkErrorPercent: { median: round(sorted(errorsPercent)[errorsPercent.length >> 1]), worst: round(Math.max(...errorsPercent)) },
    followedFrameMs: { median: round(sorted(frameMs)[frameMs.length >> 1]) },
    // CPU time, unlike wall time, hardly grows when other jobs share the cores.
    followedFrameCpuMs: round(followedCpuUs / 1000 / Math.max(1, frameMs.length)),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      photo: { type: 'string' },
      stride: { type: 'string' },
      frames: { type: 'string' },
      steps: { type: 'string' },
      rate: { type: 'string' },
      'encoder-interval': { type: 'string' },
    },
  });
  const number = (value?: string) => (value === undefined ? undefined : Number(value));
  console.log(
    JSON.stringify(
      await benchTracker({
        photo: values.photo,
        stride: number(values.stride),
        frames: number(values.frames),
        landmarkSteps: number(values.steps),
        learningRate: number(values.rate),
        encoderInterval: number(values['encoder-interval']),
      }),
    ),
  );
}
