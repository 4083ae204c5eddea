"""facegar's crop networks in PyTorch, operation for operation: FaceEncoder (src/invert/face-encoder.ts)
and LandmarkRegressor (src/invert/landmark-regressor.ts), one trunk (src/invert/encoder-trunk.ts) and a head each.

Layers follow src/gar/layers.ts and src/gar/discriminator.ts: weights stored ~N(0, 1) and scaled at
run time by 1/sqrt(fan-in) (equalised learning rate), bias added after, leaky ReLU 0.2 times sqrt(2),
a downsampling convolution average-pools 2x2 BEFORE its 3x3 convolution, both residual branches
times sqrt(0.5), the head times 0.1, and outputs = output_mean + output_std * raw. Weights are
created with TS's own random stream (pack_io.TsNormals), so a fresh network equals the TS one
built with the same seed. Parameter names and layouts are TS's: conv [k, k, in, out], dense [in, out].
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from pack_io import TsNormals

SQRT2 = math.sqrt(2.0)


class _Zeros:
    def normals(self, count, scale=1.0):
        return np.zeros(count, np.float32)


def channels_at(config, resolution):
    return max(1, min(config['channelBase'] // resolution, config['channelMax']))


class Conv2dLayer(torch.nn.Module):
    """Equalised-lr convolution, 'same' padding; weight kept as [out, in, k, k] for torch."""

    def __init__(self, in_channels, out_channels, kernel_size, random, activation='linear', bias=True, down=1, gain=1.0):
        super().__init__()
        hwio = random.normals(kernel_size * kernel_size * in_channels * out_channels).reshape(kernel_size, kernel_size, in_channels, out_channels)
        self.weight = torch.nn.Parameter(torch.from_numpy(hwio).permute(3, 2, 0, 1).contiguous())
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation, self.down, self.gain, self.padding = activation, down, gain, kernel_size // 2

    def forward(self, x):
        if self.down == 2:
            x = F.avg_pool2d(x, 2)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if self.activation == 'lrelu':
            x = F.leaky_relu(x, 0.2) * SQRT2
        return x * self.gain if self.gain != 1.0 else x

    def ts_parameters(self):
        """(name, TS-layout array) pairs."""
        out = [('weight', self.weight.detach().permute(2, 3, 1, 0))]
        return out + ([('bias', self.bias.detach())] if self.bias is not None else [])


class DenseLayer(torch.nn.Module):
    """Equalised-lr fully connected layer, weight [in, out] as in TS."""

    def __init__(self, in_features, out_features, random, activation='linear'):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(random.normals(in_features * out_features).reshape(in_features, out_features)))
        self.bias = torch.nn.Parameter(torch.zeros(out_features))
        self.weight_gain = 1.0 / math.sqrt(in_features)
        self.activation = activation

    def forward(self, x):
        x = torch.addmm(self.bias, x, self.weight * self.weight_gain)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activation == 'lrelu' else x

    def ts_parameters(self):
        return [('weight', self.weight.detach()), ('bias', self.bias.detach())]


class ResidualBlock(torch.nn.Module):
    """r -> r/2: conv 3x3, conv 3x3 down, plus a 1x1 down skip without bias; both branches x sqrt(0.5)."""

    def __init__(self, in_channels, out_channels, resolution, random):
        super().__init__()
        self.resolution = resolution
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3, random, activation='lrelu')
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, random, activation='lrelu', down=2, gain=math.sqrt(0.5))
        self.skip = Conv2dLayer(in_channels, out_channels, 1, random, bias=False, down=2, gain=math.sqrt(0.5))

    def forward(self, x):
        return self.skip(x) + self.conv1(self.conv0(x))


class CropNetwork(torch.nn.Module):
    """The crop trunk (src/invert/encoder-trunk.ts: stem, residual blocks, hidden FC) and a linear head
    of `output_size` standardised outputs: crops [N, 3, R, R] in -1..1 (NCHW) -> raw [N, output_size]."""

    def __init__(self, config, seed, output_size):
        """seed: the TS network's seed (the same initial weights), or None for zeros (weights to be loaded)."""
        super().__init__()
        self.config = dict(config)
        random = TsNormals(seed) if seed is not None else _Zeros()
        resolution = config['resolution']
        self.stem = Conv2dLayer(3, channels_at(config, resolution), 1, random, activation='lrelu')
        blocks, r = [], resolution
        while r > 4:
            blocks.append(ResidualBlock(channels_at(config, r), channels_at(config, r // 2), r, random))
            r //= 2
        self.blocks = torch.nn.ModuleList(blocks)
        self.hidden = DenseLayer(channels_at(config, 4) * 16, config['hiddenFeatures'], random, activation='lrelu')
        self.output_size = output_size
        self.head = DenseLayer(config['hiddenFeatures'], self.output_size, random)
        self.register_buffer('output_mean', torch.zeros(self.output_size))
        self.register_buffer('output_std', torch.ones(self.output_size))

    def forward(self, crops):
        x = self.stem(crops)
        for block in self.blocks:
            x = block(x)
        # TS flattens NHWC: height, width, then channels.
        flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.head(self.hidden(flat)) * 0.1

    def destandardise(self, raw):
        return self.output_mean + self.output_std * raw

    def ts_parameters(self):
        """Every parameter by its TS name ("b128.conv0.weight", ...), in TS layout, float32 numpy."""
        owners = [('stem', self.stem)] + [(f'b{b.resolution}.{part}', getattr(b, part)) for b in self.blocks for part in ('conv0', 'conv1', 'skip')]
        owners += [('hidden', self.hidden), ('head', self.head)]
        out = [(f'{prefix}.{name}', value) for prefix, owner in owners for name, value in owner.ts_parameters()]
        out += [('output_mean', self.output_mean), ('output_std', self.output_std)]
        return [(name, value.detach().float().cpu().numpy().copy()) for name, value in out]

    def load_ts_parameters(self, arrays):
        """Inverse of ts_parameters: arrays maps TS names to TS-layout arrays."""
        owners = {'stem': self.stem, 'hidden': self.hidden, 'head': self.head}
        for block in self.blocks:
            for part in ('conv0', 'conv1', 'skip'):
                owners[f'b{block.resolution}.{part}'] = getattr(block, part)
        with torch.no_grad():
            for name, value in arrays.items():
                tensor = torch.from_numpy(np.asarray(value, dtype=np.float32))
                if name in ('output_mean', 'output_std'):
                    getattr(self, name).copy_(tensor)
                    continue
                prefix, field = name.rsplit('.', 1)
                parameter = getattr(owners[prefix], field)
                if field == 'weight' and parameter.dim() == 4:
                    tensor = tensor.permute(3, 2, 0, 1)
                if tuple(tensor.shape) != tuple(parameter.shape):
                    raise ValueError(f'{name}: shape {tuple(tensor.shape)}, expected {tuple(parameter.shape)}')
                parameter.copy_(tensor)


class FaceEncoder(CropNetwork):
    """src/invert/face-encoder.ts: identity K | expression logits E | pose 7 | w (standardised raw outputs)."""

    def __init__(self, config, seed):
        super().__init__(config, seed, config['identityCount'] + config['expressionCount'] + 7 + config['wDim'])


class LandmarkRegressor(CropNetwork):
    """src/invert/landmark-regressor.ts: 2 * landmarkCount outputs, point k at (u/S - 1/2, v/S - 1/2) once destandardised."""

    def __init__(self, config, seed):
        super().__init__(config, seed, 2 * config['landmarkCount'])
