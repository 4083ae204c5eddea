// GAR refinement: analysis by synthesis through the Generative Adversarial Renderer. Adam over
// (identity, expression, pose, focal, w) minimising the masked pixel loss between the aligned
// crop and GAR(normal map of the current mesh, w), the landmark loss and priors.
import * as tf from '@tensorflow/tfjs-core';
import type { RgbaImage } from '../common/image.ts';
import { FitFailedError, invalidParameterError } from '../common/errors.ts';
import { AdamOptimizer } from '../gar/adam.ts';
import type { Generator } from '../gar/generator.ts';
import { rotationFromEuler } from '../geometry/rotation.ts';
import { evaluateMorphableModel } from '../morphable/morphable-model.ts';
import { cropPoseToCamera, type CropFrame } from '../invert/crop-frame.ts';
import type { EncoderEstimate } from '../invert/face-encoder.ts';
import { garTensorToImage, garVisibleSubmesh, imageToGarTensor, renderSubmeshThroughGar } from '../invert/render-through-gar.ts';
import { cameraToClipArray, transformPointsArray } from '../geometry/camera.ts';
import { gatherRows } from '../raster/gather-rows.ts';
import { LandmarkCorrespondence } from './contour-landmarks.ts';
import { denseTermOfPoints, type DenseLandmarkTerm, type DensePoints } from './dense-landmarks.ts';
import { validateFitConfig, type FitConfig } from './fit-config.ts';
import { estimateYaw, landmarkBoxSizePx } from './fit-frame.ts';
import { FitVariables } from './fit-variables.ts';
import { poseVariableValues, type FixedPose } from './fixed-pose.ts';
import { validateGarRefineConfig, type GarRefineConfig } from './gar-refine-config.ts';
import {
  CONTOUR_UPDATE_INTERVAL,
  clampExpression,
  currentPose,
  focalTensor,
  landmarkLoss,
  landmarkWeights,
  priorLoss,
  projectLandmarks,
  runLandmarkStage,
  toCameraSpace,
  updateContour,
  type FitFrame,
} from './landmark-stage.ts';
import type { ModelTensors } from './model-tensors.ts';
import { ModelVertexEvaluator } from './model-vertex-evaluator.ts';
import { photometricLoss, rgbTensor, runPhotometricStage, type FaceCrop } from './photometric-stage.ts';
import { robustPixelLoss } from './robust-pixel-loss.ts';

export interface GarRefineInput {
  /** The aligned crop (alignFaceCrop), generator.resolution² pixels. */
  crop: RgbaImage;
  /** The crop's camera frame (principal point = the photo's optical centre in crop pixels). */
  frame: CropFrame;
  /** [68*2] detected landmarks in crop pixels; without them only pixel loss and priors act. */
  landmarks68?: Float32Array;
  /** The model vertex under each of those landmarks (a landmark regressor's); default: calibrated for the detector. */
  landmarkVertices?: ArrayLike<number>;
  /** A landmark regressor's dense points (crop px) and their vertices: the dense term, at `denseLandmarkWeight`. */
  densePoints?: DensePoints;
  /** Start (the encoder's estimate); default the mean face, frontal (yaw from the landmarks), w = w̄. */
  start?: EncoderEstimate;
  /** Identity prior centre and per-mode precision (a shape encoder's estimate and confidence); default N(0, 1). */
  identityPrior?: { mean: Float32Array; precision: Float32Array };
  /** Centre of the log-focal prior, relative to the crop frame's focal reference. Default 0. */
  logFocalPriorMean?: number;
  /** Diagnostics: hold this pose and focal length (crop camera, crop pixels) fixed; only shape, expression and w move. */
  fixedPose?: FixedPose;
  /** Hold the identity coefficients at these (one person's joint estimate from several photos). */
  fixedIdentity?: Float32Array;
  /** The same aligned crop at `shadingSizePx` for the shading stage; default `crop`. */
  shadingCrop?: RgbaImage;
}

/** Loss terms of one evaluation (each already multiplied by its weight). */
export interface GarRefineTerms {
  total: number;
  pixel: number;
  /** Landmark data term plus the identity / expression / focal priors. */
  landmarkAndPriors: number;
  latentPrior: number;
}

export interface GarRefineResult {
  identity: Float32Array;
  expressionWeights: Float32Array;
  /** [pitch, yaw, roll] radians, crop camera space. */
  eulerRad: [number, number, number];
  /** p_cam = R p + t in the crop's camera space (R row-major [9]). */
  rotation: Float64Array;
  translationMm: [number, number, number];
  /** Crop pixels. */
  focalPx: number;
  w: Float32Array;
  /** [V*3] model space, mm. */
  vertices: Float32Array;
  /** [68*2] projected model landmarks, crop pixels. */
  landmarks2d: Float32Array;
  /** The final GAR render (crop size). */
  render: RgbaImage;
  /** Total loss before each step, then after the last. */
  lossHistory: number[];
  finalTerms: GarRefineTerms;
  /** `landmarks`: the landmark stage; `refine`: the GAR steps. */
  timingsMs: { landmarks: number; refine: number; perStep: number };
  /** Steps the landmark stage ran (it stops once converged). */
  landmarkStageSteps: number;
  /** Steps the shading stage ran. */
  shadingStageSteps: number;
  /** Steps the settle stage ran (identity held, pose and expression onto the landmarks). */
  settleStageSteps: number;
}

/** The mean face pivot's crop position GeometrySampler framing gives, (u/S − ½, v/S − ½) (measured over 200 samples). */
const MEAN_PIVOT_PX: [number, number] = [0, 0.05];

/**
 * One refinement in progress: the variables, the optimisers and the loss. Use
 * {@link refineWithGar} for the whole loop; this class lets tests evaluate and perturb the loss.
 * Owns tensors: call dispose().
 */
export class GarRefinement {
  readonly config: GarRefineConfig;
  readonly variables: FitVariables;
  /** [1, wDim] the latent being refined. */
  readonly w: tf.Variable<tf.Rank.R2>;
  readonly fitFrame: FitFrame;
  private readonly fitConfig: FitConfig;
  private readonly correspondence: LandmarkCorrespondence;
  private readonly dense: DenseLandmarkTerm | undefined;
  private readonly target: tf.Tensor3D;
  private readonly detected: tf.Tensor2D | undefined;
  private readonly weights: tf.Tensor1D;
  private readonly optimizers: { shape: AdamOptimizer; pose: AdamOptimizer; latent: AdamOptimizer };
  /** Made on the first step (its transposed basis costs ~20 ms: not worth it for a 0-step refinement). */
  private vertexEvaluator: ModelVertexEvaluator | undefined;
  private stepCount = 0;

  constructor(
    readonly generator: Generator,
    readonly models: ModelTensors,
    readonly input: GarRefineInput,
    config: Partial<GarRefineConfig> = {},
  ) {
    this.config = validateGarRefineConfig(config);
    const R = generator.config.resolution;
    if (input.crop.width !== R || input.crop.height !== R)
      throw invalidParameterError('crop', `a ${R}×${R} image (the GAR's resolution)`, `${input.crop.width}×${input.crop.height}`);
    if (input.frame.sizePx !== R) throw invalidParameterError('frame.sizePx', String(R), input.frame.sizePx);
    if (input.landmarks68 && input.landmarks68.length !== 136) throw invalidParameterError('landmarks68', '68 * 2 numbers', input.landmarks68.length);
    if (input.shadingCrop && input.shadingCrop.width !== input.shadingCrop.height)
      throw invalidParameterError('shadingCrop', 'a square image', `${input.shadingCrop.width}×${input.shadingCrop.height}`);
    const frame = input.frame;
    const start = input.start;
    const K = models.identityCount,
      E = models.expressionCount;
    const yaw = start ? start.pose.eulerRad[1] : input.landmarks68 ? estimateYaw(input.landmarks68) : 0;
    const pose = start?.pose ?? {
      eulerRad: [0, yaw, 0] as [number, number, number],
      pivotPx: MEAN_PIVOT_PX,
      logFocal: input.logFocalPriorMean ?? 0,
      logDepth: 0,
    };
    const camera = cropPoseToCamera(pose, frame);
    this.variables = new FitVariables({ modeCount: K + E, yaw, direction: camera.direction });
    tf.tidy(() => {
      if (start) {
        if (start.identity.length !== K || start.expression.length !== E)
          throw invalidParameterError('start', `K ${K}, E ${E} coefficients`, `${start.identity.length}, ${start.expression.length}`);
        const coefficients = new Float32Array(K + E);
        coefficients.set(start.identity);
        coefficients.set(start.expression, K);
        this.variables.coefficients.assign(tf.tensor1d(coefficients));
      }
      this.variables.angles.assign(tf.tensor1d(pose.eulerRad));
      this.variables.logDepth.assign(tf.scalar(pose.logDepth));
      this.variables.logFocal.assign(tf.scalar(pose.logFocal));
    });
    const wStart = start?.w ?? (generator.mapping.wAvg.dataSync() as Float32Array);
    if (wStart.length !== generator.config.wDim) throw invalidParameterError('start.w', `${generator.config.wDim} values`, wStart.length);
    this.w = tf.tidy(() => tf.variable(tf.tensor2d(wStart, [1, wStart.length]))) as tf.Variable<tf.Rank.R2>;
    if (input.identityPrior && (input.identityPrior.mean.length !== K || input.identityPrior.precision.length !== K)) {
      throw invalidParameterError(
        'identityPrior',
        `mean and precision of ${K} modes`,
        `${input.identityPrior.mean.length}, ${input.identityPrior.precision.length}`,
      );
    }
    this.fitFrame = {
      focalPriorPx: frame.focalRefPx,
      principalPointPx: frame.principalPointPx,
      initialDepthMm: frame.depthRefMm,
      pivotMm: frame.pivotMm,
      faceSizePx: faceSize(input.landmarks68, R),
      shapePriorScale: 1,
      ...(input.identityPrior ? { identityPrior: input.identityPrior } : {}),
      logFocalPriorMean: input.logFocalPriorMean ?? 0,
    };
    if (input.fixedPose) this.variables.lockPose(poseVariableValues(input.fixedPose, this.fitFrame));
    if (input.fixedIdentity) this.variables.lockIdentity(input.fixedIdentity);
    this.fitConfig = validateFitConfig({
      landmarkWeight: this.config.landmarkWeight,
      contourLandmarkWeight: this.config.contourLandmarkWeight,
      identityPriorWeight: this.config.identityPriorWeight,
      expressionPriorWeight: this.config.expressionPriorWeight,
      focalPriorWeight: this.config.focalPriorWeight,
      denseLandmarkWeight: this.config.denseLandmarkWeight,
    });
    this.correspondence = new LandmarkCorrespondence(models.model, input.landmarkVertices);
    this.dense = input.densePoints && this.config.denseLandmarkWeight > 0 ? denseTermOfPoints(models.model, input.densePoints) : undefined;
    this.target = tf.tidy(() => tf.squeeze(imageToGarTensor(input.crop), [0]) as tf.Tensor3D);
    this.detected = input.landmarks68 ? tf.tensor2d(input.landmarks68, [68, 2]) : undefined;
    this.weights = tf.tensor1d(landmarkWeights(this.config.contourLandmarkWeight));
    // Built inside tidy: AdamOptimizer's tf.variable(tf.zerosLike(…)) would otherwise keep the zero tensors alive.
    const adam = (learningRate: number, parameters: [string, tf.Variable][]) => {
      let optimizer!: AdamOptimizer;
      tf.tidy(() => {
        optimizer = new AdamOptimizer(parameters, { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
      });
      return optimizer;
    };
    const v = this.variables;
    this.optimizers = {
      shape: adam(this.config.learningRateShape, [['coefficients', v.coefficients]]),
      pose: adam(this.config.learningRatePose, [
        ['angles', v.angles],
        ['direction', v.direction],
        ['logDepth', v.logDepth],
        ['logFocal', v.logFocal],
      ]),
      latent: adam(this.config.learningRateLatent, [['w', this.w]]),
    };
  }

  /**
   * The graphics path's landmark stage (fit/landmark-stage.ts) on this refinement's variables:
   * no rendering, so ~100× cheaper per step than a GAR step. Returns the steps it ran.
   */
  runLandmarkStage(onStep?: (step: number, total: number) => void): number {
    if (!this.input.landmarks68 || this.config.landmarkStageSteps === 0) return 0;
    return runLandmarkStage(
      this.models,
      this.correspondence,
      this.variables,
      this.fitFrame,
      this.input.landmarks68,
      { ...this.fitConfig, landmarkSteps: this.config.landmarkStageSteps },
      onStep,
      this.dense,
    ).length;
  }

  /**
   * The shading stage: the graphics renderer's photometric stage (fit/photometric-stage.ts) in
   * this refinement's crop frame, pose held. Returns its loss after each step (none without
   * landmarks or with `shadingSteps` 0).
   */
  runShadingStage(): number[] {
    const steps = this.config.shadingSteps;
    if (steps === 0 || !this.input.landmarks68) return [];
    const source = this.input.shadingCrop ?? this.input.crop;
    const crop: FaceCrop = { sizePx: source.width, originPx: [0, 0], scale: source.width / this.generator.config.resolution, target: rgbTensor(source) };
    try {
      return runPhotometricStage(
        this.models,
        this.correspondence,
        this.variables,
        this.fitFrame,
        crop,
        this.input.landmarks68,
        {
          ...this.fitConfig,
          photometricSteps: steps,
          photometricWeight: this.config.shadingWeight,
          photometricShapeRateFraction: this.config.shadingShapeRateFraction,
        },
        undefined,
        this.dense,
      );
    } finally {
      crop.target.dispose();
    }
  }

  /**
   * The settle stage: Adam steps of the landmark term and priors alone (no render), on the GAR
   * steps' shape and pose optimisers, with the identity held where the stages before left it, so
   * that pose and expression settle onto the detector's points. Returns the steps it ran.
   */
  runSettleStage(): number {
    const detected = this.detected;
    if (this.config.settleSteps === 0 || !detected) return 0;
    const v = this.variables;
    v.lockIdentity((v.coefficients.dataSync() as Float32Array).slice(0, this.models.identityCount));
    for (let step = 0; step < this.config.settleSteps; step++) {
      if (step % CONTOUR_UPDATE_INTERVAL === 0) updateContour(this.correspondence, v, this.fitFrame);
      const { value, grads } = tf.variableGrads(
        () => landmarkLoss(this.models, this.correspondence, v, this.fitFrame, detected, this.weights, this.fitConfig, this.dense),
        [v.coefficients, v.angles, v.direction, v.logDepth, v.logFocal],
      );
      const g = (variable: tf.Variable) => grads[variable.name];
      this.optimizers.shape.apply([g(v.coefficients)]);
      this.optimizers.pose.apply([g(v.angles), g(v.direction), g(v.logDepth), g(v.logFocal)]);
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      if (!Number.isFinite(loss)) throw new FitFailedError(`the settle stage diverged (loss ${loss} at step ${step + 1})`);
      v.restoreLocked();
      clampExpression(this.models, v);
    }
    return this.config.settleSteps;
  }

  /** The refined variables, in the order of the optimisers. */
  refinedVariables(): tf.Variable[] {
    const v = this.variables;
    return [v.coefficients, v.angles, v.direction, v.logDepth, v.logFocal, this.w];
  }

  /** The weighted loss terms as scalars (inside the caller's tidy / gradient scope). */
  lossTerms(): { pixel: tf.Scalar; landmarkAndPriors: tf.Scalar; latentPrior: tf.Scalar; total: tf.Scalar; render: tf.Tensor4D } {
    const { models, variables, fitFrame, config } = this;
    const vertices = this.vertexEvaluator ? this.vertexEvaluator.vertices(variables.coefficients) : models.vertices(variables.coefficients);
    // Visibility from plain numbers (no gradient): the whole mesh in the crop camera, rasterised
    // in JS; only its visible part goes through the differentiable camera, normals and shading.
    const size = this.generator.config.resolution;
    const pose = currentPose(variables, fitFrame);
    const clipAll = cameraToClipArray(transformPointsArray(vertices.dataSync(), pose.rotation, pose.translationMm), {
      focalPx: pose.focalPx,
      principalPointPx: fitFrame.principalPointPx,
      width: size,
      height: size,
    });
    const submesh = garVisibleSubmesh(clipAll, models.model.triangles, size);
    const points = toCameraSpace(gatherRows(vertices, submesh.vertexIds), variables, fitFrame);
    const render = renderSubmeshThroughGar(this.generator, submesh, points, focalTensor(variables, fitFrame), fitFrame.principalPointPx, this.w);
    const pixel = tf.mul(
      config.pixelWeight,
      robustPixelLoss(photometricLoss(tf.squeeze(render.image, [0]) as tf.Tensor3D, render.mask, this.target), config.pixelNoiseReference),
    ) as tf.Scalar;
    const landmarkAndPriors = this.detected
      ? landmarkLoss(models, this.correspondence, variables, fitFrame, this.detected, this.weights, this.fitConfig, this.dense)
      : priorLoss(models, variables, this.fitConfig, fitFrame);
    const latentPrior = tf.mul(config.latentPriorWeight, tf.mean(tf.square(tf.sub(this.w, this.generator.mapping.wAvg)))) as tf.Scalar;
    return { pixel, landmarkAndPriors, latentPrior, total: tf.addN([pixel, landmarkAndPriors, latentPrior]) as tf.Scalar, render: render.image };
  }

  /** Evaluate the loss terms as numbers. */
  evaluate(): GarRefineTerms {
    return tf.tidy(() => {
      const t = this.lossTerms();
      return {
        total: t.total.dataSync()[0],
        pixel: t.pixel.dataSync()[0],
        landmarkAndPriors: t.landmarkAndPriors.dataSync()[0],
        latentPrior: t.latentPrior.dataSync()[0],
      };
    });
  }

  /** One Adam step; returns the total loss before it. */
  step(): number {
    if (this.detected && this.stepCount % CONTOUR_UPDATE_INTERVAL === 0) updateContour(this.correspondence, this.variables, this.fitFrame);
    this.stepCount++;
    this.vertexEvaluator ??= new ModelVertexEvaluator(this.models);
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => this.lossTerms().total), this.refinedVariables());
    const loss = value.dataSync()[0];
    const g = (v: tf.Variable) => grads[v.name];
    const v = this.variables;
    this.optimizers.shape.apply([g(v.coefficients)]);
    this.optimizers.pose.apply([g(v.angles), g(v.direction), g(v.logDepth), g(v.logFocal)]);
    this.optimizers.latent.apply([g(this.w)]);
    tf.dispose([value, ...Object.values(grads)]);
    this.variables.restoreLocked();
    clampExpression(this.models, this.variables);
    return loss;
  }

  /** The current state as plain numbers, with the final render and loss terms. */
  result(lossHistory: number[], refineMs: number, landmarkStage = { steps: 0, ms: 0 }, shadingStageSteps = 0, settleStageSteps = 0): GarRefineResult {
    const K = this.models.identityCount;
    const coefficients = this.variables.coefficients.dataSync() as Float32Array;
    const identity = coefficients.slice(0, K),
      expressionWeights = coefficients.slice(K);
    const eulerRad = Array.from(this.variables.angles.dataSync()) as [number, number, number];
    const rotation = rotationFromEuler(...eulerRad);
    const depth = this.fitFrame.initialDepthMm * Math.exp(this.variables.logDepth.dataSync()[0]);
    const [dx, dy] = Array.from(this.variables.direction.dataSync());
    const [px, py, pz] = this.fitFrame.pivotMm;
    const translationMm: [number, number, number] = [dx * depth, dy * depth, -depth];
    for (let r = 0; r < 3; r++) translationMm[r] -= rotation[3 * r] * px + rotation[3 * r + 1] * py + rotation[3 * r + 2] * pz;
    let terms!: GarRefineTerms, render!: RgbaImage, landmarks2d!: Float32Array;
    tf.tidy(() => {
      const t = this.lossTerms();
      terms = {
        total: t.total.dataSync()[0],
        pixel: t.pixel.dataSync()[0],
        landmarkAndPriors: t.landmarkAndPriors.dataSync()[0],
        latentPrior: t.latentPrior.dataSync()[0],
      };
      render = garTensorToImage(t.render);
      landmarks2d = projectLandmarks(this.correspondence, this.variables, this.fitFrame).dataSync() as Float32Array;
    });
    return {
      identity,
      expressionWeights,
      eulerRad,
      rotation,
      translationMm,
      focalPx: this.fitFrame.focalPriorPx * Math.exp(this.variables.logFocal.dataSync()[0]),
      w: this.w.dataSync() as Float32Array,
      vertices: evaluateMorphableModel(this.models.model, identity, expressionWeights),
      landmarks2d,
      render,
      lossHistory: [...lossHistory, terms.total],
      finalTerms: terms,
      timingsMs: { landmarks: landmarkStage.ms, refine: refineMs, perStep: lossHistory.length ? refineMs / lossHistory.length : 0 },
      landmarkStageSteps: landmarkStage.steps,
      shadingStageSteps,
      settleStageSteps,
    };
  }

  dispose(): void {
    this.variables.dispose();
    this.w.dispose();
    this.correspondence.dispose();
    this.dense?.dispose();
    this.vertexEvaluator?.dispose();
    tf.dispose([this.target, this.weights, ...(this.detected ? [this.detected] : [])]);
    for (const optimizer of Object.values(this.optimizers)) optimizer.dispose();
  }
}

/**
 * Refine a face through the GAR: the landmark stage (`config.landmarkStageSteps`), then
 * `config.steps` Adam steps through the GAR, from `input.start` (or the mean face and w̄), then
 * the shading stage (`config.shadingSteps`), then the settle stage (`config.settleSteps`).
 * Deterministic; leaves no tensors behind; throws FitFailedError on a NaN loss.
 *
 * @param generator the GAR generator (EMA weights), frozen: only the face's variables move.
 * @param models the morphable model as tensors.
 * @param onStep after each GAR step; `onLandmarkStep` after each landmark-stage step.
 */
export function refineWithGar(
  generator: Generator,
  models: ModelTensors,
  input: GarRefineInput,
  config: Partial<GarRefineConfig> = {},
  onStep?: (step: number, total: number, loss: number) => void,
  onLandmarkStep?: (step: number, total: number) => void,
): GarRefineResult {
  const refinement = new GarRefinement(generator, models, input, config);
  try {
    const stageStarted = performance.now();
    const landmarkStage = { steps: refinement.runLandmarkStage(onLandmarkStep), ms: 0 };
    landmarkStage.ms = performance.now() - stageStarted;
    const started = performance.now();
    const history: number[] = [];
    for (let step = 0; step < refinement.config.steps; step++) {
      const loss = refinement.step();
      if (!Number.isFinite(loss)) throw new FitFailedError(`the GAR refinement diverged (loss ${loss} at step ${step + 1})`);
      history.push(loss);
      onStep?.(step + 1, refinement.config.steps, loss);
    }
    const shading = refinement.runShadingStage();
    if (shading.some((loss) => !Number.isFinite(loss))) throw new FitFailedError('the shading stage diverged');
    const settleSteps = refinement.runSettleStage();
    return refinement.result(history, performance.now() - started, landmarkStage, shading.length, settleSteps);
  } finally {
    refinement.dispose();
  }
}

/** Landmark box size in crop pixels; without landmarks, the template's face size. */
function faceSize(landmarks68: Float32Array | undefined, sizePx: number): number {
  return landmarks68 ? landmarkBoxSizePx(landmarks68) : 0.45 * sizePx;
}
