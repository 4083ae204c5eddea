import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LandmarkGateOptions } from '../api/landmark-source.ts';
import { UsageError } from '../common/errors.ts';
import { DEFAULT_LANDMARK_RELIABILITY_CONFIG, type LandmarkReliabilityConfig } from '../fit/landmark-reliability.ts';

type ParseArgsConfig = NonNullable<Parameters<typeof parseArgs>[0]>;
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` in strict mode; a parse failure (unknown option, missing value, stray positional)
 * becomes a one-line UsageError pointing at --help.
 */
export function parseCommandArgs<T extends OptionSpec, P extends boolean>(
  args: string[],
  options: T,
  { allowPositionals }: { allowPositionals: P },
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: P; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (try --help)`);
  }
}

/** A required option's value; `label` names it with its placeholder, e.g. `--out <run dir>`. */
export function requireOption(value: string | undefined, label: string): asserts value is string {
  if (!value) throw new UsageError(`${label} is required (try --help)`);
}

/**
 * An integer option within [minimum, maximum]. Without a maximum the message reads
 * "Expected integer ≥ min", with one "Expected an integer between min and max".
 */
export function integerOption(value: string | boolean | undefined, name: string, minimum: number, maximum?: number): number {
  const number = Number(value);
  if (maximum === undefined) {
    if (!Number.isInteger(number) || number < minimum) throw new UsageError(`Expected integer ≥ ${minimum} for --${name} but received ${value}`);
  } else if (!Number.isInteger(number) || number < minimum || number > maximum) {
    throw new UsageError(`Expected an integer between ${minimum} and ${maximum} for --${name} but received ${value}`);
  }
  return number;
}

/** Like integerOption, but an absent option gives undefined. */
export function optionalIntegerOption(value: string | boolean | undefined, name: string, minimum: number, maximum?: number): number | undefined {
  return value === undefined ? undefined : integerOption(value, name, minimum, maximum);
}

/** An optional number > 0 (e.g. a learning rate); absent gives undefined. */
export function optionalPositiveNumberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!(number > 0)) throw new UsageError(`Expected a positive number for --${name} but received ${value}`);
  return number;
}

/** A number ≥ 0 (e.g. a loss weight). */
export function nonNegativeNumberOption(value: string | undefined, name: string): number {
  const number = Number(value);
  if (!(number >= 0)) throw new UsageError(`Expected a number ≥ 0 for --${name} but received ${value}`);
  return number;
}

/** --landmark-map: undefined (the shipped map), 'none' → false, else the file's absolute path. */
export function landmarkMapOption(value: string | undefined): string | false | undefined {
  if (value === undefined) return undefined;
  return value === 'none' ? false : resolve(value);
}

/** A JSON object option: parsed, or a usage error naming the option. */
function jsonObjectOption(value: string, name: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`Expected a JSON object for --${name} but received ${value}`);
  return parsed as Record<string, unknown>;
}

/** A JSON object option of numbers (--gar-refine, --fit): parsed, or a usage error naming the option. */
export function numberObjectOption(value: string | undefined, name: string): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const parsed = jsonObjectOption(value, name);
  for (const [key, field] of Object.entries(parsed))
    if (typeof field !== 'number') throw new UsageError(`Expected a number for --${name} ${key} but received ${JSON.stringify(field)}`);
  return parsed as Record<string, number>;
}

/**
 * --landmark-gate: a JSON object of the turned-face gate's options (api/landmark-source.ts), for
 * measuring them: `cropRefinements` (0–3) and `reliability` (numeric thresholds of
 * fit/landmark-reliability.ts).
 */
export function landmarkGateOption(value: string | undefined): LandmarkGateOptions | undefined {
  if (value === undefined) return undefined;
  const parsed = jsonObjectOption(value, 'landmark-gate');
  const out: LandmarkGateOptions = {};
  for (const [key, field] of Object.entries(parsed)) {
    if (key === 'cropRefinements') {
      if (!Number.isInteger(field) || (field as number) < 0 || (field as number) > 3)
        throw new UsageError(`Expected an integer from 0 to 3 for --landmark-gate cropRefinements but received ${JSON.stringify(field)}`);
      out.cropRefinements = field as number;
    } else if (key === 'reliability') {
      if (typeof field !== 'object' || field === null || Array.isArray(field))
        throw new UsageError(`Expected an object for --landmark-gate reliability but received ${JSON.stringify(field)}`);
      const reliability: Partial<LandmarkReliabilityConfig> = {};
      for (const [name, threshold] of Object.entries(field)) {
        if (!(name in DEFAULT_LANDMARK_RELIABILITY_CONFIG))
          throw new UsageError(`Unknown --landmark-gate reliability field ${name} (expected ${Object.keys(DEFAULT_LANDMARK_RELIABILITY_CONFIG).join(', ')})`);
        if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0)
          throw new UsageError(`Expected a number ≥ 0 for --landmark-gate reliability.${name} but received ${JSON.stringify(threshold)}`);
        reliability[name as keyof LandmarkReliabilityConfig] = threshold;
      }
      out.reliability = reliability;
    } else throw new UsageError(`Unknown --landmark-gate field ${key} (expected cropRefinements, reliability)`);
  }
  return out;
}
