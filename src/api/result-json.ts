import type { FaceReconstruction, Reconstruction } from './reconstruct.ts';
import type { GarFaceDetails } from './gar-face.ts';

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const points = (flat: Float32Array) => Array.from({ length: flat.length / 2 }, (_, k) => [round(flat[2 * k], 2), round(flat[2 * k + 1], 2)]);

/** One face as plain JSON: what `<stem>.json` holds per face. */
export function faceToJson(face: FaceReconstruction): Record<string, unknown> {
  const r = face.rotation;
  return {
    faceNumber: face.faceNumber,
    box: { x: round(face.box.x, 1), y: round(face.box.y, 1), width: round(face.box.width, 1), height: round(face.box.height, 1) },
    detectionScore: round(face.detectionScore, 4),
    meshScore: round(face.meshScore, 4),
    landmarks2d: points(face.landmarks2d),
    detectedLandmarks2d: points(face.detectedLandmarks2d),
    landmarkSource: face.landmarkSource,
    ...(face.landmarkMap ? { landmarkMap: true } : {}),
    ...(face.mappedLandmarks2d ? { mappedLandmarks2d: points(face.mappedLandmarks2d) } : {}),
    ...(face.regressedLandmarks2d ? { regressedLandmarks2d: points(face.regressedLandmarks2d) } : {}),
    landmarkErrorPx: round(face.landmarkErrorPx, 3),
    landmarkReliability: landmarkReliability(face.landmarkAssessment),
    interOcularPx: round(face.interOcularPx, 2),
    identityRegressor: face.identityRegressor,
    identity: Array.from(face.identity, (v) => round(v, 5)),
    expression: Object.fromEntries(Object.entries(face.expression).map(([name, weight]) => [name, round(weight, 5)])),
    pose: {
      rotation: [
        [r[0], r[1], r[2]],
        [r[3], r[4], r[5]],
        [r[6], r[7], r[8]],
      ].map((row) => row.map((v) => round(v, 7))),
      anglesDeg: { pitch: round(face.anglesDeg[0], 3), yaw: round(face.anglesDeg[1], 3), roll: round(face.anglesDeg[2], 3) },
      translationMm: face.translationMm.map((v) => round(v, 3)),
      focalPx: round(face.focalPx, 3),
      focalSource: face.focalSource,
      principalPointPx: face.principalPointPx.map((v) => round(v, 3)),
    },
    renderer: face.renderer,
    ...(face.gar
      ? garFields(face.gar)
      : {
          light: Array.from(face.light, (v) => round(v, 5)),
          albedo: Array.from(face.albedo, (v) => round(v, 5)),
          finalLoss: {
            landmark: round(face.lossHistory.landmark.at(-1) ?? NaN, 8),
            photometric: face.lossHistory.photometric.length ? round(face.lossHistory.photometric.at(-1) as number, 8) : null,
          },
        }),
  };
}

/** Why the detector's landmarks were (not) trusted: yaw estimates in degrees, reasons in words. */
function landmarkReliability(a: FaceReconstruction['landmarkAssessment']): Record<string, unknown> {
  return {
    reliable: a.reliable,
    reasons: a.reasons,
    noseShift: round(a.noseShift, 3),
    ...(a.meshYawDeg !== undefined ? { meshYawDeg: round(a.meshYawDeg, 1) } : {}),
    ...(a.encoderYawDeg !== undefined ? { encoderYawDeg: round(a.encoderYawDeg, 1) } : {}),
    keptDetectorPoints: a.keepDetector.reduce((sum, k) => sum + k, 0),
  };
}

/** The GAR path's own fields: final loss terms (weighted), refinement settings and stage timings, the latent. */
function garFields(gar: GarFaceDetails): Record<string, unknown> {
  const t = gar.finalTerms;
  return {
    finalLoss: { total: round(t.total, 8), pixel: round(t.pixel, 8), landmarkAndPriors: round(t.landmarkAndPriors, 8), latentPrior: round(t.latentPrior, 8) },
    gar: {
      preset: gar.preset,
      start: gar.start,
      steps: gar.steps,
      shadingSteps: gar.shadingSteps,
      settleSteps: gar.settleSteps,
      identityRegressor: gar.identityRegressor,
      cropSizePx: gar.crop.width,
      lossHistory: { first: round(gar.lossHistory[0], 8), last: round(gar.lossHistory.at(-1) as number, 8), values: gar.lossHistory.length },
      timingsMs: {
        align: round(gar.timingsMs.align, 1),
        encode: round(gar.timingsMs.encode, 1),
        landmarks: round(gar.timingsMs.landmarks, 1),
        refine: round(gar.timingsMs.refine, 1),
      },
      w: Array.from(gar.w, (v) => round(v, 5)),
    },
  };
}

/**
 * The whole `<stem>.json`: image facts, face 1's fields at the top level (the common case of
 * one face), and every face under `faces`. Conventions are spelled out under `conventions`.
 */
export function reconstructionToJson(
  reconstruction: Reconstruction,
  extra: { input: string; outputs: Record<string, unknown>[]; timingsMs: Record<string, number>; version: string },
): Record<string, unknown> {
  const faces = reconstruction.faces.map((face, i) => ({ ...faceToJson(face), outputs: extra.outputs[i] }));
  return {
    facegar: extra.version,
    input: extra.input,
    imageSize: reconstruction.imageSize,
    faceCount: faces.length,
    ...faces[0],
    timingsMs: Object.fromEntries(Object.entries(extra.timingsMs).map(([k, v]) => [k, round(v, 1)])),
    faces,
    conventions: {
      pixels: 'original image, origin top-left, pixel centres at +0.5',
      landmarks:
        "iBUG-68 order; landmarkErrorPx: projected vs the landmarks the fit matched, which landmarkSource names: facemesh (the detector, detectedLandmarks2d); regressor (regressedLandmarks2d, the landmark regressor's model vertices); given (the points passed in, as detectedLandmarks2d); encoder (the shape encoder's estimate, projected, where the detector's points looked unreliable: landmarkReliability); facemesh+encoder (the detector's eyes, nose and mouth, the encoder's jaw line and brows); landmarkMap true: the detector's points were read through the landmark map (the model's own 68 landmarks from FaceMesh's whole mesh, occluded ones included): mappedLandmarks2d, which the fit matched (with landmarkSource facemesh)",
      pose: 'p_camera = rotation · p_model + translationMm; camera looks down -z, +y up; u = cx + f·x/(-z), v = cy - f·y/(-z)',
      mesh: 'model space, millimetres, right-handed, +y up',
      ...(reconstruction.faces.some((face) => face.gar)
        ? {
            gar: 'renderer "gar": the fit ran through the Generative Adversarial Renderer in an aligned crop; pose, camera and landmarks are given in the original image like the graphics path\'s; finalLoss terms are weighted (see fit/gar-refine-config.ts)',
          }
        : {}),
    },
  };
}

/** JSON text with one key per line but short arrays of numbers kept on one line: readable and diffable. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_, inner: string) => `[${inner.replace(/,\s+/g, ', ')}]`) + '\n';
}
