/**
 * Errors a user can cause. Each kind has a stable `code` string and a distinct process
 * exit code, so scripts can tell "no face" from "not an image" without parsing text.
 * Messages are one line and name the input they are about.
 */

/** Process exit codes, one per kind of failure. 0 is success. */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  inputMissing: 3,
  inputNotImage: 4,
  noFace: 5,
  modelUnavailable: 6,
  outputNotWritable: 7,
  fitFailed: 8,
  /** A batch where some inputs succeeded and some failed. */
  partialBatch: 9,
  /** The work queue (Redis) cannot be reached. */
  queueUnavailable: 10,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

/** Base class of every error facegar throws on purpose. */
export class FacegarError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FacegarError';
    this.code = code;
    this.exitCode = EXIT_CODES[code];
  }
}

export class UsageError extends FacegarError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}
export class InputMissingError extends FacegarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('inputMissing', message, options);
    this.name = 'InputMissingError';
  }
}
export class NotAnImageError extends FacegarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('inputNotImage', message, options);
    this.name = 'NotAnImageError';
  }
}
export class NoFaceError extends FacegarError {
  constructor(message: string) {
    super('noFace', message);
    this.name = 'NoFaceError';
  }
}
export class ModelUnavailableError extends FacegarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('modelUnavailable', message, options);
    this.name = 'ModelUnavailableError';
  }
}
export class OutputNotWritableError extends FacegarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('outputNotWritable', message, options);
    this.name = 'OutputNotWritableError';
  }
}
export class FitFailedError extends FacegarError {
  constructor(message: string) {
    super('fitFailed', message);
    this.name = 'FitFailedError';
  }
}

export class QueueUnavailableError extends FacegarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('queueUnavailable', message, options);
    this.name = 'QueueUnavailableError';
  }
}

/** sharp-style message for a bad option: "Expected X for name but received v of type t". */
export function invalidParameterError(name: string, expected: string, actual: unknown): UsageError {
  return new UsageError(`Expected ${expected} for ${name} but received ${String(actual)} of type ${typeof actual}`);
}
