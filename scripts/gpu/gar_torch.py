"""PyTorch port of facegar's GAR (src/gar/): generator, discriminator and normal estimator.

Exactly the computation of the TF.js code, for GPU training. Parameters keep the TS layouts and
names, so a state_dict key is the TS parameter path ("synthesis.b8.conv0.affine.weight") and
weights move between the two without conversion:
  fully connected weight [in, out]; convolution weight [k, k, in, out] (HWIO); const [4, 4, C].
Activations are NCHW here (TS: NHWC); the public forward functions take and return NCHW.
Runs on torch 1.13 (CPU) and 2.x (CUDA).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)
SQRT1_2 = math.sqrt(0.5)

_COMMON = {'mappingLrMultiplier': 0.01, 'mbstdGroupSize': 4}
# src/gar/gar-config.ts GAR_PRESETS
GAR_PRESETS = {
    'tiny': dict(_COMMON, resolution=32, zDim=128, wDim=128, mappingLayers=2, channelBase=1024, channelMax=64, injectionHiddenChannels=8),
    'small': dict(_COMMON, resolution=64, zDim=128, wDim=128, mappingLayers=3, channelBase=2048, channelMax=64, injectionHiddenChannels=16),
    'base': dict(_COMMON, resolution=128, zDim=256, wDim=256, mappingLayers=4, channelBase=8192, channelMax=64, injectionHiddenChannels=16),
    'paper': dict(_COMMON, resolution=256, zDim=512, wDim=512, mappingLayers=8, channelBase=32768, channelMax=512, injectionHiddenChannels=32),
}


def channels_at(config, resolution):
    return max(1, min(config['channelBase'] // resolution, config['channelMax']))


def block_resolutions(config):
    out, r = [], 4
    while r <= config['resolution']:
        out.append(r)
        r *= 2
    return out


def lrelu_gain(x):
    """Leaky ReLU (0.2) times √2 (parameters.ts leakyReluGain)."""
    return F.leaky_relu(x, 0.2) * SQRT2


def upsample2(x):
    """Bilinear ×2 with half-pixel centres (tf.image.resizeBilinear(…, false, true))."""
    return F.interpolate(x, size=(x.shape[2] * 2, x.shape[3] * 2), mode='bilinear', align_corners=False)


class FullyConnected(nn.Module):
    """y = act(x·W·(lr/√in) + b·lr); weight [in, out] stored as N(0, 1)/lr (layers.ts FullyConnectedLayer)."""

    def __init__(self, in_features, out_features, activation='linear', lr_multiplier=1.0, bias_init=0.0):
        super().__init__()
        self.activation, self.lr_multiplier = activation, lr_multiplier
        self.weight = nn.Parameter(torch.randn([in_features, out_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], bias_init / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)

    def forward(self, x):
        y = x.matmul(self.weight * self.weight_gain) + self.bias * self.lr_multiplier
        return lrelu_gain(y) if self.activation == 'lrelu' else y


class Conv2d(nn.Module):
    """Equalised-lr 'same' convolution, optional 2×2 average pool first and output gain (layers.ts Conv2dLayer)."""

    def __init__(self, in_channels, out_channels, kernel_size, activation='linear', bias=True, down=1, gain=1.0, init_scale=1.0):
        super().__init__()
        self.activation, self.down, self.gain, self.kernel_size = activation, down, gain, kernel_size
        self.weight = nn.Parameter(torch.randn([kernel_size, kernel_size, in_channels, out_channels]) * init_scale)
        if bias:
            self.bias = nn.Parameter(torch.zeros([out_channels]))
        else:
            self.register_parameter('bias', None)
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x):
        if self.down == 2:
            x = F.avg_pool2d(x, 2)
        w = (self.weight * self.weight_gain).permute(3, 2, 0, 1)
        y = F.conv2d(x, w, padding=self.kernel_size // 2)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        if self.activation == 'lrelu':
            y = lrelu_gain(y)
        return y * self.gain if self.gain != 1 else y


def modulated_conv2d(x, weight, styles, demodulate, up=1):
    """StyleGAN2 modulated conv as conv(x·s, w)·d (modulated-conv2d.ts).

    x [N, I, H, W]; weight [k, k, I, O] already times its gain; styles [N, I] → [N, O, H·up, W·up].
    """
    n, i = styles.shape
    y = x * styles.view(n, i, 1, 1)
    if up == 2:
        y = upsample2(y)
    y = F.conv2d(y, weight.permute(3, 2, 0, 1), padding=weight.shape[0] // 2)
    if demodulate:
        energy = styles.square().matmul(weight.square().sum(dim=(0, 1)))  # [N, O]
        y = y * torch.rsqrt(energy + 1e-8).view(n, -1, 1, 1)
    return y


class NormalInjection(nn.Module):
    """Residual conv block over the normal map → spatial scale and bias (synthesis-layers.ts NormalInjection)."""

    def __init__(self, normal_channels, hidden_channels, feature_channels):
        super().__init__()
        self.conv0 = Conv2d(normal_channels, hidden_channels, 3, activation='lrelu')
        self.conv1 = Conv2d(hidden_channels, hidden_channels, 3, activation='lrelu', gain=SQRT1_2)
        self.skip = Conv2d(normal_channels, hidden_channels, 1, bias=False, gain=SQRT1_2)
        self.scale = Conv2d(hidden_channels, feature_channels, 3, init_scale=0.1)
        # 'bias' is the TS name of the bias head; nn.Module has no 'bias' of its own here.
        self.bias = Conv2d(hidden_channels, feature_channels, 3, init_scale=0.1)

    def modulate(self, x, normals):
        hidden = self.conv1(self.conv0(normals)) + self.skip(normals)
        return x * (self.scale(hidden) + 1) + self.bias(hidden)


class SynthesisLayer(nn.Module):
    """Style affine, modulated+demodulated 3×3 conv (optionally ×2 up), noise, normal injection, bias, lrelu·√2."""

    def __init__(self, w_dim, in_channels, out_channels, up, injection_hidden):
        super().__init__()
        self.up = up
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn([3, 3, in_channels, out_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.injection = NormalInjection(3, injection_hidden, out_channels)
        self.weight_gain = 1.0 / math.sqrt(9 * in_channels)

    def forward(self, x, w, normals, noise_generator=None):
        styles = self.affine(w)
        y = modulated_conv2d(x, self.weight * self.weight_gain, styles, demodulate=True, up=self.up)
        if noise_generator is not None:
            n, _, h, width = y.shape
            y = y + torch.randn([n, 1, h, width], device=y.device, generator=noise_generator) * self.noise_strength
        y = self.injection.modulate(y, normals)
        return lrelu_gain(y + self.bias.view(1, -1, 1, 1))


class ToRgb(nn.Module):
    """Modulated 1×1 conv without demodulation, plus bias."""

    def __init__(self, w_dim, in_channels, out_channels=3):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn([1, 1, in_channels, out_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x, w):
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    def __init__(self, w_dim, in_channels, out_channels, resolution, injection_hidden):
        super().__init__()
        self.resolution = resolution
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([resolution, resolution, out_channels]))
            self.conv0 = None
        else:
            self.const = None
            self.conv0 = SynthesisLayer(w_dim, in_channels, out_channels, 2, injection_hidden)
        self.conv1 = SynthesisLayer(w_dim, out_channels, out_channels, 1, injection_hidden)
        self.torgb = ToRgb(w_dim, out_channels)
        self.num_conv = 1 if self.conv0 is None else 2

    def forward(self, x, image, ws, normals, noise_generator=None):
        i = 0
        if self.conv0 is None:
            h = self.const.permute(2, 0, 1).unsqueeze(0).expand(normals.shape[0], -1, -1, -1)
        else:
            h = self.conv0(x, ws[i], normals, noise_generator)
            i += 1
        h = self.conv1(h, ws[i], normals, noise_generator)
        rgb = self.torgb(h, ws[i + 1])
        if image is not None:
            rgb = upsample2(image) + rgb
        return h, rgb


class SynthesisNetwork(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.resolution = config['resolution']
        self.block_names = []
        in_channels = 0
        for r in block_resolutions(config):
            out_channels = channels_at(config, r)
            self.add_module(f'b{r}', SynthesisBlock(config['wDim'], in_channels, out_channels, r, config['injectionHiddenChannels']))
            self.block_names.append(f'b{r}')
            in_channels = out_channels
        self.num_ws = sum(getattr(self, b).num_conv for b in self.block_names) + 1

    def forward(self, ws, normals, noise_generator=None):
        """ws [N, numWs, wDim], normals [N, 3, R, R] (n·0.5+0.5, background 0) → image [N, 3, R, R]."""
        R = self.resolution
        if tuple(normals.shape[1:]) != (3, R, R):
            raise ValueError(f'normal map must be [N, 3, {R}, {R}], got {list(normals.shape)}')
        pyramid = {R: normals}
        r = R // 2
        while r >= 4:
            pyramid[r] = F.avg_pool2d(pyramid[r * 2], 2)
            r //= 2
        x = image = None
        index = 0
        for name in self.block_names:
            block = getattr(self, name)
            per_layer = [ws[:, index + k] for k in range(block.num_conv + 1)]
            x, image = block(x, image, per_layer, pyramid[block.resolution], noise_generator)
            index += block.num_conv
        return image


class MappingNetwork(nn.Module):
    def __init__(self, z_dim, w_dim, layers, lr_multiplier, w_avg_beta=0.995):
        super().__init__()
        self.num_layers, self.w_avg_beta = layers, w_avg_beta
        for i in range(layers):
            self.add_module(f'fc{i}', FullyConnected(z_dim if i == 0 else w_dim, w_dim, 'lrelu', lr_multiplier))
        self.register_buffer('w_avg', torch.zeros([w_dim]))

    def forward(self, z, truncation_psi=1.0, update_w_avg=False):
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for i in range(self.num_layers):
            x = getattr(self, f'fc{i}')(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(self.w_avg * self.w_avg_beta + x.detach().mean(dim=0) * (1 - self.w_avg_beta))
        if truncation_psi != 1:
            x = self.w_avg + (x - self.w_avg) * truncation_psi
        return x


class Generator(nn.Module):
    """Mapping z → w and the synthesis network with normal injection (generator.ts)."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.mapping = MappingNetwork(config['zDim'], config['wDim'], config['mappingLayers'], config['mappingLrMultiplier'])
        self.synthesis = SynthesisNetwork(config)
        self.num_ws = self.synthesis.num_ws

    def map_latents(self, z, truncation_psi=1.0, mixing_z=None, mixing_cutoff=None, update_w_avg=False):
        w = self.mapping(z, truncation_psi, update_w_avg)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if mixing_z is not None and mixing_cutoff is not None and mixing_cutoff < self.num_ws:
            w2 = self.mapping(mixing_z, truncation_psi)
            ws = torch.cat([ws[:, :mixing_cutoff], w2.unsqueeze(1).repeat(1, self.num_ws - mixing_cutoff, 1)], dim=1)
        return ws

    def synthesize(self, ws, normals, noise_generator=None):
        return self.synthesis(ws, normals, noise_generator)

    def forward(self, normals, z, truncation_psi=1.0, noise_generator=None):
        return self.synthesize(self.map_latents(z, truncation_psi), normals, noise_generator)


class DiscriminatorBlock(nn.Module):
    """Residual block r → r/2 (discriminator.ts DiscriminatorBlock)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv0 = Conv2d(in_channels, in_channels, 3, activation='lrelu')
        self.conv1 = Conv2d(in_channels, out_channels, 3, activation='lrelu', down=2, gain=SQRT1_2)
        self.skip = Conv2d(in_channels, out_channels, 1, bias=False, down=2, gain=SQRT1_2)

    def forward(self, x):
        return self.skip(x) + self.conv1(self.conv0(x))


def minibatch_stddev(x, group_size):
    """[N, C, H, W] → [N, C+1, H, W]; sample i is group member i // (N/G), as in TS and StyleGAN2."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g != 0:
        raise ValueError(f'batch {n} is not a multiple of the minibatch-stddev group {g}')
    grouped = x.reshape(g, n // g, c, h, w)
    centred = grouped - grouped.mean(dim=0, keepdim=True)
    std = torch.sqrt(centred.square().mean(dim=0) + 1e-8)  # [n/g, c, h, w]
    per_group = std.mean(dim=(1, 2, 3)).reshape(n // g, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, per_group], dim=1)


class Epilogue(nn.Module):
    def __init__(self, c4):
        super().__init__()
        self.conv = Conv2d(c4 + 1, c4, 3, activation='lrelu')
        self.fc = FullyConnected(c4 * 16, c4, 'lrelu')
        self.out = FullyConnected(c4, 1)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator: images [N, 3, R, R] in −1…1 → logits [N, 1]."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        resolutions = list(reversed(block_resolutions(config)))
        self.fromrgb = Conv2d(3, channels_at(config, config['resolution']), 1, activation='lrelu')
        self.block_names = []
        for r in resolutions[:-1]:
            self.add_module(f'b{r}', DiscriminatorBlock(channels_at(config, r), channels_at(config, r // 2)))
            self.block_names.append(f'b{r}')
        self.epilogue = Epilogue(channels_at(config, 4))

    def forward(self, images):
        x = self.fromrgb(images)
        for name in self.block_names:
            x = getattr(self, name)(x)
        x = self.epilogue.conv(minibatch_stddev(x, self.config['mbstdGroupSize']))
        flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # NHWC order, as the TS weights expect
        return self.epilogue.out(self.epilogue.fc(flat))


class NormalEstimator(nn.Module):
    """U-Net: aligned crops [N, 3, R, R] in −1…1 → unit camera-space normals [N, 3, R, R] (normal-estimator.ts)."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        c = list(config['channels'])
        self.levels = len(c)
        for level, channels in enumerate(c):
            self.add_module(f'enc{level}', nn.Module())
            enc = getattr(self, f'enc{level}')
            enc.conv0 = Conv2d(3 if level == 0 else c[level - 1], channels, 3, activation='lrelu', down=1 if level == 0 else 2)
            enc.conv1 = Conv2d(channels, channels, 3, activation='lrelu')
        for level, channels in enumerate(c[:-1]):
            self.add_module(f'dec{level}', nn.Module())
            getattr(self, f'dec{level}').conv = Conv2d(c[level + 1] + channels, channels, 3, activation='lrelu')
        self.head = Conv2d(c[0], 3, 1)

    def forward(self, images):
        skips = []
        h = images
        for level in range(self.levels):
            enc = getattr(self, f'enc{level}')
            h = enc.conv1(enc.conv0(h))
            skips.append(h)
        for level in range(self.levels - 2, -1, -1):
            size = skips[level].shape[2]
            up = F.interpolate(h, size=(size, size), mode='bilinear', align_corners=False)
            h = getattr(self, f'dec{level}').conv(torch.cat([up, skips[level]], dim=1))
        raw = self.head(h)
        return raw / torch.sqrt(raw.square().sum(dim=1, keepdim=True) + 1e-8)


def normal_map_mask(normal_maps):
    """[N, 1, R, R]: 1 where the encoded normal map is not background 0."""
    return (normal_maps.sum(dim=1, keepdim=True) > 1e-6).to(normal_maps.dtype)


def normal_cosine_loss(predicted_unit, target_normal_maps):
    """Mean 1 − ⟨n̂, n⟩ over the face pixels of the batch (normal-estimator.ts normalCosineLoss)."""
    mask = normal_map_mask(target_normal_maps)
    decoded = (target_normal_maps * 2 - 1) * mask
    cosine = (predicted_unit * decoded).sum(dim=1, keepdim=True)
    return ((1 - cosine) * mask).sum() / mask.sum().clamp(min=1)
