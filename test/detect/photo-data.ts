// Example photos and their 5-point detections, shared by the detect tests.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectionsDir, photosDir } from '../helpers/shared-data.ts';

/** 5 points in image pixels: image-left eye, image-right eye, nose tip, image-left and image-right mouth corner. */
export type FivePoints = [number, number][];

export async function listExamplePhotos(): Promise<{ name: string; path: string }[]> {
  const names = (await readdir(photosDir)).filter((f) => f.endsWith('.jpg')).sort();
  return names.map((name) => ({ name, path: join(photosDir, name) }));
}

export async function readFivePoints(photoName: string): Promise<FivePoints> {
  const text = await readFile(join(detectionsDir, photoName.replace(/\.jpg$/, '.txt')), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
}

/** The same 5 points taken from iBUG-68 landmarks (eye = mean of its 6 points). */
export function fivePointsFromIbug68(landmarks68: Float32Array): FivePoints {
  const mean = (ids: number[]): [number, number] => [
    ids.reduce((s, i) => s + landmarks68[2 * i], 0) / ids.length,
    ids.reduce((s, i) => s + landmarks68[2 * i + 1], 0) / ids.length,
  ];
  return [mean([36, 37, 38, 39, 40, 41]), mean([42, 43, 44, 45, 46, 47]), mean([30]), mean([48]), mean([54])];
}

/** Mean point distance divided by the reference's inter-ocular distance. */
export function normalisedMeanError(predicted: FivePoints, reference: FivePoints): number {
  const iod = Math.hypot(reference[0][0] - reference[1][0], reference[0][1] - reference[1][1]);
  const total = predicted.reduce((s, p, i) => s + Math.hypot(p[0] - reference[i][0], p[1] - reference[i][1]), 0);
  return total / predicted.length / iod;
}
