import { invalidParameterError } from '../common/errors.ts';
import { channelsAt } from '../gar/gar-config.ts';

/** Architecture of a face encoder: the constructor arguments saved in its checkpoints. */
export interface EncoderNetworkConfig {
  /** Input crop side (the GAR's resolution), a power of two ≥ 8. */
  resolution: number;
  /** Channels at resolution r: min(channelBase / r, channelMax) (as the GAR's). */
  channelBase: number;
  channelMax: number;
  /** Width of the fully connected layer before the heads. */
  hiddenFeatures: number;
  /** Output sizes: identity modes (K), expressions (E), the GAR's latent (w). */
  identityCount: number;
  expressionCount: number;
  wDim: number;
}

export type EncoderPresetName = 'tiny' | 'small' | 'base' | 'paper';

type Architecture = Pick<EncoderNetworkConfig, 'resolution' | 'channelBase' | 'channelMax' | 'hiddenFeatures'>;

/** Widths by name, matching the GAR presets' resolutions (tiny 32², small 64², base 128², paper 256²). */
export const ENCODER_PRESETS: Readonly<Record<EncoderPresetName, Readonly<Architecture>>> = Object.freeze({
  tiny: { resolution: 32, channelBase: 1024, channelMax: 64, hiddenFeatures: 128 },
  small: { resolution: 64, channelBase: 4096, channelMax: 128, hiddenFeatures: 256 },
  base: { resolution: 128, channelBase: 16384, channelMax: 256, hiddenFeatures: 512 },
  paper: { resolution: 256, channelBase: 32768, channelMax: 512, hiddenFeatures: 512 },
});

/** The preset whose resolution is `resolution` (to match a GAR). */
export function encoderPresetForResolution(resolution: number): EncoderPresetName {
  const name = (Object.keys(ENCODER_PRESETS) as EncoderPresetName[]).find((n) => ENCODER_PRESETS[n].resolution === resolution);
  if (!name)
    throw invalidParameterError(
      'resolution',
      `one of ${Object.values(ENCODER_PRESETS)
        .map((p) => p.resolution)
        .join(', ')}`,
      resolution,
    );
  return name;
}

/** Preset + output sizes (+ overrides), checked. */
export function encoderNetworkConfig(
  preset: string,
  outputs: Pick<EncoderNetworkConfig, 'identityCount' | 'expressionCount' | 'wDim'>,
  overrides: Partial<EncoderNetworkConfig> = {},
): EncoderNetworkConfig {
  if (!(preset in ENCODER_PRESETS)) throw invalidParameterError('preset', `one of ${Object.keys(ENCODER_PRESETS).join(', ')}`, preset);
  return validateEncoderNetworkConfig({ ...ENCODER_PRESETS[preset as EncoderPresetName], ...outputs, ...overrides });
}

/** Upper bounds of the sizes (several times the `paper` preset's): a checkpoint's config comes from a file. */
export const ENCODER_CONFIG_MAXIMA: Readonly<Record<'channelBase' | 'channelMax' | 'hiddenFeatures' | 'identityCount' | 'expressionCount' | 'wDim', number>> =
  Object.freeze({
    channelBase: 262144,
    channelMax: 2048,
    hiddenFeatures: 8192,
    identityCount: 1000,
    expressionCount: 1000,
    wDim: 2048,
  });

export function validateEncoderNetworkConfig(config: EncoderNetworkConfig): EncoderNetworkConfig {
  if (!config || typeof config !== 'object') throw invalidParameterError('network', 'an encoder network config object', config);
  const r = config.resolution;
  if (!Number.isInteger(r) || r < 8 || r > 1024 || (r & (r - 1)) !== 0) throw invalidParameterError('resolution', 'a power of two between 8 and 1024', r);
  for (const [key, maximum] of Object.entries(ENCODER_CONFIG_MAXIMA) as [keyof typeof ENCODER_CONFIG_MAXIMA, number][]) {
    const minimum = key === 'expressionCount' ? 0 : 1;
    if (!Number.isInteger(config[key]) || config[key] < minimum || config[key] > maximum)
      throw invalidParameterError(key, `an integer between ${minimum} and ${maximum}`, config[key]);
  }
  return config;
}

/**
 * Fewer weights than an encoder of `config` has (its input layer, fully connected layer and
 * heads; the convolution blocks left out), computed without building it (see checkWeightsCover).
 */
export function encoderWeightLowerBound(config: EncoderNetworkConfig): number {
  const hiddenInputs = channelsAt(config, 4) * 16;
  return 3 * channelsAt(config, config.resolution) + hiddenInputs * config.hiddenFeatures + config.hiddenFeatures * encoderOutputLayout(config).size;
}

/**
 * Layout of the encoder's output vector [P]: identity K | expression logits E | euler 3 |
 * pivotPx 2 | logFocal 1 | logDepth 1 | w wDim. Offsets into that vector.
 */
export function encoderOutputLayout(config: Pick<EncoderNetworkConfig, 'identityCount' | 'expressionCount' | 'wDim'>) {
  const identity = 0;
  const expression = identity + config.identityCount;
  const euler = expression + config.expressionCount;
  const pivot = euler + 3;
  const logFocal = pivot + 2;
  const logDepth = logFocal + 1;
  const w = logDepth + 1;
  return { identity, expression, euler, pivot, logFocal, logDepth, w, size: w + config.wDim };
}
