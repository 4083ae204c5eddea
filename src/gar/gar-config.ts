import { invalidParameterError } from '../common/errors.ts';

/** Architecture of a GAR (generator + discriminator); the constructor arguments saved in checkpoints. */
export interface GarNetworkConfig {
  /** Output resolution, a power of two ≥ 8. */
  resolution: number;
  zDim: number;
  wDim: number;
  mappingLayers: number;
  mappingLrMultiplier: number;
  /** Channels at resolution r: min(channelBase / r, channelMax). */
  channelBase: number;
  channelMax: number;
  /** Hidden channels of each normal injection module. */
  injectionHiddenChannels: number;
  /** Minibatch-stddev group size of the discriminator. */
  mbstdGroupSize: number;
}

export type GarPresetName = 'tiny' | 'small' | 'base' | 'paper';

const COMMON = { mappingLrMultiplier: 0.01, mbstdGroupSize: 4 } as const;

/**
 * Architectures by name. `tiny`, `small` and `base` are sized for a 2-core CPU (wasm): at most
 * 64 channels per block, 32 at the top resolution of tiny and small, w 128–256, 2–4 mapping
 * layers (bench/gar.ts measures them). `paper` is close to StyleGAN2 config-f at 256², for GPUs.
 */
export const GAR_PRESETS: Readonly<Record<GarPresetName, Readonly<GarNetworkConfig>>> = Object.freeze({
  tiny: { ...COMMON, resolution: 32, zDim: 128, wDim: 128, mappingLayers: 2, channelBase: 1024, channelMax: 64, injectionHiddenChannels: 8 },
  small: { ...COMMON, resolution: 64, zDim: 128, wDim: 128, mappingLayers: 3, channelBase: 2048, channelMax: 64, injectionHiddenChannels: 16 },
  base: { ...COMMON, resolution: 128, zDim: 256, wDim: 256, mappingLayers: 4, channelBase: 8192, channelMax: 64, injectionHiddenChannels: 16 },
  paper: { ...COMMON, resolution: 256, zDim: 512, wDim: 512, mappingLayers: 8, channelBase: 32768, channelMax: 512, injectionHiddenChannels: 32 },
});

/** Channels of the feature maps at `resolution`. */
export function channelsAt(config: Pick<GarNetworkConfig, 'channelBase' | 'channelMax'>, resolution: number): number {
  return Math.max(1, Math.min(Math.floor(config.channelBase / resolution), config.channelMax));
}

/** Resolutions 4, 8, …, config.resolution. */
export function blockResolutions(config: GarNetworkConfig): number[] {
  const out: number[] = [];
  for (let r = 4; r <= config.resolution; r *= 2) out.push(r);
  return out;
}

/** The preset by name, with overrides; throws UsageError on an unknown name or bad values. */
export function garNetworkConfig(preset: string, overrides: Partial<GarNetworkConfig> = {}): GarNetworkConfig {
  if (!(preset in GAR_PRESETS)) throw invalidParameterError('preset', `one of ${Object.keys(GAR_PRESETS).join(', ')}`, preset);
  return validateGarNetworkConfig({ ...GAR_PRESETS[preset as GarPresetName], ...overrides });
}

/**
 * Upper bounds of the integer fields: several times the `paper` preset's (StyleGAN2 config-f),
 * so a checkpoint's config (it comes from a file) cannot ask for gigabytes of weights.
 */
export const GAR_CONFIG_MAXIMA: Readonly<
  Record<'zDim' | 'wDim' | 'mappingLayers' | 'channelBase' | 'channelMax' | 'injectionHiddenChannels' | 'mbstdGroupSize', number>
> = Object.freeze({
  zDim: 2048,
  wDim: 2048,
  mappingLayers: 16,
  channelBase: 262144,
  channelMax: 2048,
  injectionHiddenChannels: 512,
  mbstdGroupSize: 64,
});

/** Check every field; returns the config. */
export function validateGarNetworkConfig(config: GarNetworkConfig): GarNetworkConfig {
  if (!config || typeof config !== 'object') throw invalidParameterError('network', 'a GAR network config object', config);
  const r = config.resolution;
  if (!Number.isInteger(r) || r < 8 || r > 1024 || (r & (r - 1)) !== 0) throw invalidParameterError('resolution', 'a power of two between 8 and 1024', r);
  for (const [key, maximum] of Object.entries(GAR_CONFIG_MAXIMA) as [keyof typeof GAR_CONFIG_MAXIMA, number][]) {
    if (!Number.isInteger(config[key]) || config[key] < 1 || config[key] > maximum)
      throw invalidParameterError(key, `an integer between 1 and ${maximum}`, config[key]);
  }
  if (!(config.mappingLrMultiplier > 0)) throw invalidParameterError('mappingLrMultiplier', 'a positive number', config.mappingLrMultiplier);
  return config;
}

/**
 * Fewer weights than a generator of `config` has (its mapping layers, convolutions, style
 * affines and constant input; biases and the normal injections left out), computed without
 * building it: a checkpoint holding fewer cannot be this network, and is refused before the
 * network's memory is allocated (see checkWeightsCover).
 */
export function garGeneratorWeightLowerBound(config: GarNetworkConfig): number {
  let count = config.zDim * config.wDim + (config.mappingLayers - 1) * config.wDim * config.wDim;
  let previous = 0;
  for (const r of blockResolutions(config)) {
    const channels = channelsAt(config, r);
    count += previous === 0 ? 16 * channels : 9 * previous * channels + config.wDim * previous; // const input, or conv0 + its affine
    count += 9 * channels * channels + 2 * config.wDim * channels; // conv1, the affines of conv1 and toRGB
    previous = channels;
  }
  return count;
}
