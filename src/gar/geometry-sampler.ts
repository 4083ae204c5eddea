import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { ALIGNED_CROP_TEMPLATE, fitSimilarity2D } from '../detect/align-face-crop.ts';
import { projectPointsArray, transformPointsArray, cameraToClipArray, type PinholeCamera } from '../geometry/camera.ts';
import { rotationFromEuler } from '../geometry/rotation.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import { evaluateMorphableModel, expressionCount, type MorphableModel } from '../morphable/morphable-model.ts';
import { rasterize } from '../raster/rasterize.ts';
import { renderNormalMap } from '../shading/render-normal-map.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

export interface GeometrySamplerConfig {
  /** Normal-map side in pixels (the GAR resolution). */
  resolution: number;
  /** Pose prior, radians (the authors' values: yaw 0.5, pitch 0.1, roll 0.05). */
  yawStd?: number;
  pitchStd?: number;
  rollStd?: number;
  /** Identity coefficients ~ N(0, identityStd²). Default 1. */
  identityStd?: number;
  /** Each expression is active with this probability, weight ~ U(0, expressionMax). Defaults 0.1, 0.7. */
  expressionProbability?: number;
  expressionMax?: number;
  /** Camera distance to the face, mm (sets the perspective strength). Default 600. */
  distanceMm?: number;
}

export const DEFAULT_GEOMETRY_SAMPLER_CONFIG = Object.freeze({
  yawStd: 0.5,
  pitchStd: 0.1,
  rollStd: 0.05,
  identityStd: 1,
  expressionProbability: 0.1,
  expressionMax: 0.7,
  distanceMm: 600,
});

/** One sampled geometry: the parameters and where its camera puts it in the aligned crop. */
export interface SampledGeometry {
  identity: Float32Array;
  expression: Float32Array;
  /** [pitch, yaw, roll] radians of the head before alignment. */
  eulerRad: [number, number, number];
  /** Camera whose crop matches `alignFaceCrop`'s template for this face. */
  camera: PinholeCamera;
  /** [V*3] camera-space vertices, mm (includes the in-plane rotation alignment removes). */
  verticesCamera: Float32Array;
  /** [68*2] model landmarks projected into the crop, pixels. */
  landmarks2d: Float32Array;
}

const LEFT_EYE = [36, 37, 38, 39, 40, 41],
  RIGHT_EYE = [42, 43, 44, 45, 46, 47];

/**
 * Draws random face geometry from the morphable model's prior and a pose distribution, framed
 * as `prepare` frames real photos (eye centres and mouth corners on ALIGNED_CROP_TEMPLATE),
 * and rasterises camera-space normal maps: the unpaired input of GAR training.
 */
export class GeometrySampler {
  readonly config: Required<GeometrySamplerConfig>;
  readonly model: MorphableModel;

  constructor(model: MorphableModel, config: GeometrySamplerConfig) {
    this.config = { ...DEFAULT_GEOMETRY_SAMPLER_CONFIG, ...config };
    if (!Number.isInteger(config.resolution) || config.resolution < 4) throw invalidParameterError('resolution', 'an integer ≥ 4', config.resolution);
    this.model = model;
  }

  /** Random parameters and the aligned camera. */
  sample(random: SeededRandom): SampledGeometry {
    const { model, config } = this;
    const identity = random.normals(model.identityCount, config.identityStd);
    const expression = new Float32Array(expressionCount(model));
    for (let i = 0; i < expression.length; i++) if (random.next() < config.expressionProbability) expression[i] = random.next() * config.expressionMax;
    const eulerRad: [number, number, number] = [random.normal() * config.pitchStd, random.normal() * config.yawStd, random.normal() * config.rollStd];
    return { identity, expression, eulerRad, ...this.frame(identity, expression, eulerRad) };
  }

  /** Place the face for given parameters so its landmarks meet the crop template. */
  frame(
    identity: Float32Array,
    expression: Float32Array,
    eulerRad: [number, number, number],
  ): Pick<SampledGeometry, 'camera' | 'verticesCamera' | 'landmarks2d'> {
    const { model, config } = this;
    const size = config.resolution;
    const vertices = evaluateMorphableModel(model, identity, expression);
    let camera: PinholeCamera = { focalPx: 4 * size, principalPointPx: [size / 2, size / 2], width: size, height: size };
    const verticesCamera = transformPointsArray(vertices, rotationFromEuler(...eulerRad), [0, 0, -config.distanceMm]);
    // Alignment removes in-plane rotation: turn the head about the optical axis by the angle the similarity would.
    const first = fitSimilarity2D(this.templatePoints(projectPointsArray(this.landmarks3d(verticesCamera), camera)), this.templateTargets());
    const angle = Math.atan2(first.c, first.a); // image (y down) angle → camera (y up) rotation by −angle
    const cos = Math.cos(angle),
      sin = Math.sin(angle);
    for (let i = 0; i < verticesCamera.length; i += 3) {
      const x = verticesCamera[i],
        y = verticesCamera[i + 1];
      verticesCamera[i] = cos * x + sin * y;
      verticesCamera[i + 1] = -sin * x + cos * y;
    }
    // What is left is a scale and a shift: fold them into the camera.
    const points = this.templatePoints(projectPointsArray(this.landmarks3d(verticesCamera), camera));
    const targets = this.templateTargets();
    const mean = (p: [number, number][]) => p.reduce((s, q) => [s[0] + q[0] / p.length, s[1] + q[1] / p.length], [0, 0]);
    const [px, py] = mean(points),
      [qx, qy] = mean(targets);
    let dot = 0,
      norm = 0;
    points.forEach(([x, y], i) => {
      dot += (x - px) * (targets[i][0] - qx) + (y - py) * (targets[i][1] - qy);
      norm += (x - px) ** 2 + (y - py) ** 2;
    });
    const scale = dot / norm;
    camera = { ...camera, focalPx: camera.focalPx * scale, principalPointPx: [qx + scale * (size / 2 - px), qy + scale * (size / 2 - py)] };
    const landmarks2d = projectPointsArray(this.landmarks3d(verticesCamera), camera);
    return { camera, verticesCamera, landmarks2d };
  }

  /**
   * Camera-space normal maps [N, R, R, 3] (n·0.5+0.5, background 0) for `count` random geometries.
   * Also returns the geometries (for landmark losses and tests).
   */
  sampleNormalMaps(random: SeededRandom, count: number): { normals: tf.Tensor4D; geometries: SampledGeometry[] } {
    const geometries = Array.from({ length: count }, () => this.sample(random));
    return { normals: this.renderNormalMaps(geometries), geometries };
  }

  /** Rasterise the normal maps of given geometries: [N, R, R, 3]. */
  renderNormalMaps(geometries: Pick<SampledGeometry, 'camera' | 'verticesCamera'>[]): tf.Tensor4D {
    return tf.tidy(
      () =>
        tf.stack(
          geometries.map((g) => {
            const clip = cameraToClipArray(g.verticesCamera, g.camera);
            const raster = rasterize(clip, this.model.triangles, { width: g.camera.width, height: g.camera.height }, { cullBackFaces: true });
            const normals = tf.tensor2d(computeVertexNormalsArray(g.verticesCamera, this.model.triangles), [this.model.vertexCount, 3]);
            return renderNormalMap(raster, this.model.triangles, normals).image;
          }),
        ) as tf.Tensor4D,
    );
  }

  private landmarks3d(verticesCamera: Float32Array): Float32Array {
    const out = new Float32Array(68 * 3);
    this.model.landmarkVertexIndices.forEach((v, i) => out.set(verticesCamera.subarray(3 * v, 3 * v + 3), 3 * i));
    return out;
  }

  private templatePoints(landmarks2d: Float32Array): [number, number][] {
    const mean = (idx: number[], axis: number) => idx.reduce((s, i) => s + landmarks2d[2 * i + axis], 0) / idx.length;
    return [
      [mean(LEFT_EYE, 0), mean(LEFT_EYE, 1)],
      [mean(RIGHT_EYE, 0), mean(RIGHT_EYE, 1)],
      [landmarks2d[96], landmarks2d[97]],
      [landmarks2d[108], landmarks2d[109]],
    ];
  }

  private templateTargets(): [number, number][] {
    return ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x * this.config.resolution, y * this.config.resolution] as [number, number]);
  }
}
