import type { MorphableModel } from '../morphable/morphable-model.ts';
import { rotationFromEuler } from '../geometry/rotation.ts';
import { StudioRandom } from './studio-random.ts';
import type { StudioOccluders } from './studio-occluders.ts';
import type { StudioScene } from './studio-renderer.ts';

/** Ranges the studio scenes are drawn from. */
export interface StudioSceneConfig {
  width: number;
  height: number;
  /** Identity coefficients ~ N(0, identityScale²); 1 = the model's own prior (its modes have unit variance). */
  identityScale: number;
  /** How many expressions are active (each weight uniform in [0, maxExpressionWeight]). */
  activeExpressions: number;
  maxExpressionWeight: number;
  maxYawDeg: number;
  maxPitchDeg: number;
  maxRollDeg: number;
  /**
   * When set, the yaw (degrees) instead of a uniform draw in ±maxYawDeg; the draw still happens,
   * so every other parameter of a seed stays the same.
   */
  yawDeg?: number;
  /** Forehead-to-chin height as a fraction of the image height, uniform in [min, max]. */
  faceFraction: [number, number];
  /** Focal length as a multiple of the image width, uniform in [min, max]. */
  focalPerWidth: [number, number];
  /** Chance of loose hair strands across the forehead/cheek, and of a hand at the jaw. */
  hairProbability: number;
  handProbability: number;
}

export const DEFAULT_STUDIO_SCENE_CONFIG: Readonly<StudioSceneConfig> = Object.freeze({
  width: 512,
  height: 512,
  identityScale: 1,
  activeExpressions: 3,
  maxExpressionWeight: 0.7,
  maxYawDeg: 60,
  maxPitchDeg: 15,
  maxRollDeg: 10,
  faceFraction: [0.35, 0.6] as [number, number],
  focalPerWidth: [1.5, 4] as [number, number],
  hairProbability: 0.3,
  handProbability: 0.15,
});

/** Forehead-to-chin height of an average face (mm), for framing. */
const FACE_HEIGHT_MM = 190;

const SKIN_TONES: [number, number, number][] = [
  [0.78, 0.55, 0.45],
  [0.7, 0.47, 0.36],
  [0.56, 0.36, 0.26],
  [0.4, 0.24, 0.16],
  [0.25, 0.15, 0.1],
  [0.82, 0.62, 0.52],
];

/** Draw one scene from the model prior and the pose/light/camera ranges; the same seed gives the same scene. */
export function sampleStudioScene(model: MorphableModel, seed: number, overrides: Partial<StudioSceneConfig> = {}): StudioScene {
  const config = { ...DEFAULT_STUDIO_SCENE_CONFIG, ...overrides };
  const random = new StudioRandom(seed);
  const identity = new Float32Array(model.identityCount).map(() => config.identityScale * random.normal());
  const expression = new Float32Array(model.expressionNames.length);
  for (let k = 0; k < config.activeExpressions; k++) expression[random.integer(expression.length)] = random.uniform(0, config.maxExpressionWeight);
  const anglesDeg: [number, number, number] = [
    random.uniform(-config.maxPitchDeg, config.maxPitchDeg),
    random.uniform(-config.maxYawDeg, config.maxYawDeg),
    random.uniform(-config.maxRollDeg, config.maxRollDeg),
  ];
  if (config.yawDeg !== undefined) anglesDeg[1] = config.yawDeg;
  const { width, height } = config;
  const focalPx = width * random.uniform(...config.focalPerWidth);
  const distanceMm = (focalPx * FACE_HEIGHT_MM) / (random.uniform(...config.faceFraction) * height);
  // Put the face centre (between nose bridge and chin) near the image centre, shifted a little.
  const centre = faceCentre(model);
  const rotation = rotationFromEuler(...(anglesDeg.map((a) => (a * Math.PI) / 180) as [number, number, number]));
  const shiftX = (random.uniform(-0.08, 0.08) * width * distanceMm) / focalPx;
  const shiftY = (random.uniform(-0.08, 0.08) * height * distanceMm) / focalPx;
  const translationMm: [number, number, number] = [0, 1, 2].map(
    (r) => -(rotation[3 * r] * centre[0] + rotation[3 * r + 1] * centre[1] + rotation[3 * r + 2] * centre[2]),
  ) as [number, number, number];
  translationMm[0] += shiftX;
  translationMm[1] += shiftY;
  translationMm[2] -= distanceMm;
  // Key light from the front hemisphere, up to ~70° off axis.
  const lightAzimuth = random.uniform(-1.2, 1.2),
    lightElevation = random.uniform(-0.3, 0.9);
  const directionCamera: [number, number, number] = [
    Math.sin(lightAzimuth) * Math.cos(lightElevation),
    Math.sin(lightElevation),
    Math.cos(lightAzimuth) * Math.cos(lightElevation),
  ];
  const warm = random.uniform(-0.08, 0.08);
  const tone = SKIN_TONES[random.integer(SKIN_TONES.length)].map((c) => c * random.uniform(0.9, 1.1)) as [number, number, number];
  const backgroundColorRgb = () => [random.uniform(0.05, 0.8), random.uniform(0.05, 0.8), random.uniform(0.05, 0.8)] as [number, number, number];
  return {
    width,
    height,
    identity,
    expression,
    anglesDeg,
    translationMm,
    focalPx,
    principalPointPx: [width / 2, height / 2],
    light: { directionCamera, colorRgb: [1 + warm, 1, 1 - warm], intensity: random.uniform(0.6, 1.0), ambient: random.uniform(0.15, 0.4) },
    specular: { strength: random.uniform(0.05, 0.25), shininess: random.uniform(12, 60) },
    skin: {
      seed: random.integer(2 ** 31),
      toneRgb: tone,
      blotchAmount: random.uniform(0.04, 0.15),
      poreAmount: random.uniform(0.03, 0.1),
      freckleDensity: random.next() < 0.3 ? random.uniform(0.02, 0.1) : 0,
      stubbleAmount: random.next() < 0.3 ? random.uniform(0.1, 0.4) : 0,
    },
    irisRgb: [random.uniform(0.05, 0.35), random.uniform(0.04, 0.3), random.uniform(0.02, 0.25)],
    background: {
      seed: random.integer(2 ** 31),
      colorA: backgroundColorRgb(),
      colorB: backgroundColorRgb(),
      angle: random.uniform(0, 2 * Math.PI),
      noiseAmount: random.uniform(0, 0.4),
      noiseScalePx: random.uniform(8, 80),
    },
    post: {
      seed: random.integer(2 ** 31),
      blurSigmaPx: random.uniform(0.3, 1.1),
      noiseSigma: random.uniform(1, 5),
      exposure: random.uniform(0.9, 1.3),
      jpegQuality: Math.round(random.uniform(60, 95)),
    },
    // Drawn last so that adding them left every earlier parameter of a seed unchanged.
    ambientOcclusion: { strength: random.uniform(0.6, 1) },
    occluders: {
      hair: random.next() < config.hairProbability ? sampleHair(random, width) : null,
      hand: random.next() < config.handProbability ? sampleHand(random, tone) : null,
    },
  };
}

function sampleHair(random: StudioRandom, widthPx: number): NonNullable<StudioOccluders['hair']> {
  const colours: [number, number, number][] = [
    [0.03, 0.02, 0.015],
    [0.09, 0.05, 0.03],
    [0.2, 0.12, 0.06],
    [0.45, 0.33, 0.18],
  ];
  const colorRgb = colours[random.integer(colours.length)].map((c) => c * random.uniform(0.8, 1.2)) as [number, number, number];
  const count = 5 + random.integer(16);
  // Strands fall from above the brows down across the forehead and a cheek, mostly on one side.
  const side = random.next() < 0.5 ? -1 : 1;
  const strands = Array.from({ length: count }, () => {
    const x0 = side * random.uniform(-0.5, 0.9),
      y0 = random.uniform(-1.6, -1.0);
    const x3 = x0 + side * random.uniform(-0.2, 0.6),
      y3 = random.uniform(-0.5, 1.2);
    const bend = random.uniform(-0.4, 0.4);
    const controlPoints = [
      x0,
      y0,
      x0 + (x3 - x0) / 3 + bend,
      y0 + (y3 - y0) / 3,
      x0 + (2 * (x3 - x0)) / 3 - bend * random.uniform(0, 1.5),
      y0 + (2 * (y3 - y0)) / 3,
      x3,
      y3,
    ];
    return { controlPoints, widthPx: (random.uniform(1, 2.5) * widthPx) / 512 };
  });
  return { colorRgb, strands };
}

function sampleHand(random: StudioRandom, tone: [number, number, number]): NonNullable<StudioOccluders['hand']> {
  // A hand at the side of the jaw with the fingers up and inwards, as when resting a chin.
  const side = random.next() < 0.5 ? -1 : 1;
  return {
    centre: [side * random.uniform(0.6, 1.1), random.uniform(1.1, 1.6)],
    palmRadius: random.uniform(0.45, 0.65),
    angleRad: -side * random.uniform(0.1, 0.7),
    fingerLength: random.uniform(0.5, 0.8),
    toneRgb: tone.map((c) => c * random.uniform(0.9, 1.1)) as [number, number, number],
  };
}

/**
 * The scene as a plain JSON-serialisable record (typed arrays become number arrays, numbers
 * rounded to 6 significant digits): every parameter that made the image, for reports.
 */
export function studioSceneRecord(scene: StudioScene): Record<string, unknown> {
  const round = (value: unknown): unknown => {
    if (typeof value === 'number') return Number.isInteger(value) ? value : Number(value.toPrecision(6));
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => round(v));
    if (Array.isArray(value)) return value.map(round);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, round(v)]));
    return value;
  };
  return round(scene) as Record<string, unknown>;
}

function faceCentre(model: MorphableModel): [number, number, number] {
  const nose = model.landmarkVertexIndices[30],
    chin = model.landmarkVertexIndices[8],
    bridge = model.landmarkVertexIndices[27];
  const v = model.neutral;
  return [0, 1, 2].map((k) => (v[3 * nose + k] + v[3 * chin + k] + v[3 * bridge + k]) / 3 - (k === 2 ? 40 : 0)) as [number, number, number];
}
