"""Camera and file effects on batches of linear crops [B, 3, S, S] -> 8-bit-quantised encoder input in -1..1:
exposure, lens blur, a low-resolution source, the sRGB curve with a random gamma, colour and
saturation jitter, sensor noise, JPEG (8x8 DCT quantisation in YCbCr at a random quality, as the
studio renderer's jpegRoundTrip), and now and then the black of a crop reaching past the photo."""
import math

import torch
import torch.nn.functional as F

from pack_io import linear_to_srgb
from scenes import sample_scenes

# IJG (libjpeg) base tables, scaled by quality as libjpeg does.
LUMA_TABLE = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
              18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
CHROMA_TABLE = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def _dct_matrix(device):
    k = torch.arange(8, device=device, dtype=torch.float32)
    m = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


def jpeg_round_trip(image_255, quality):
    """image_255 [B, 3, S, S] (S a multiple of 8), quality [B] in 1..100 -> the decoded image (no chroma subsampling)."""
    device = image_255.device
    batch, _, size, _ = image_255.shape
    r, g, b = image_255[:, 0], image_255[:, 1], image_255[:, 2]
    ycc = torch.stack([0.299 * r + 0.587 * g + 0.114 * b - 128,
                       -0.168736 * r - 0.331264 * g + 0.5 * b,
                       0.5 * r - 0.418688 * g - 0.081312 * b], 1)
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality)
    tables = torch.tensor([LUMA_TABLE, CHROMA_TABLE, CHROMA_TABLE], device=device, dtype=torch.float32).view(1, 3, 8, 8)
    steps = ((tables * scale.view(-1, 1, 1, 1) + 50) / 100).floor().clamp(1, 255)  # [B, 3, 8, 8]
    blocks = ycc.view(batch, 3, size // 8, 8, size // 8, 8).permute(0, 1, 2, 4, 3, 5)  # [B, 3, by, bx, 8, 8]
    m = _dct_matrix(device)
    coefficients = m @ blocks @ m.T
    step = steps[:, :, None, None]
    coefficients = torch.round(coefficients / step) * step
    blocks = m.T @ coefficients @ m
    y, cb, cr = blocks.permute(0, 1, 2, 4, 3, 5).reshape(batch, 3, size, size).unbind(1)
    y = y + 128
    return torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1)


def gaussian_blur(image, sigma_px):
    """Per-sample separable Gaussian blur; sigma_px [B] (0 = none)."""
    batch, channels, height, width = image.shape
    radius = 3
    offsets = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    kernel = torch.exp(-offsets[None] ** 2 / (2 * sigma_px[:, None].clamp_min(1e-3) ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # [B, 7]
    kernel = kernel.repeat_interleave(channels, 0)  # one per (sample, channel) group
    x = image.reshape(1, batch * channels, height, width)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode='replicate'), kernel.view(-1, 1, 1, 2 * radius + 1), groups=batch * channels)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode='replicate'), kernel.view(-1, 1, 2 * radius + 1, 1), groups=batch * channels)
    return x.view(batch, channels, height, width)


def render_photos(geometry, renderer, config, batch, generator, jitter_mean, jitter_std, crop_px, shadows=True):
    """(scenes, network input [B, 3, S, S] channels_last): random scenes (scenes.sample_scenes) rendered
    into their crops (face_renderer.FaceRenderer) through the camera effects."""
    scenes = sample_scenes(geometry, config, batch, generator, jitter_mean, jitter_std, crop_px)
    return scenes, camera_effects(renderer.render(scenes, generator, shadows=shadows), generator).contiguous(memory_format=torch.channels_last)


def camera_effects(linear, generator):
    """linear RGB [B, 3, S, S] -> encoder input [B, 3, S, S] in -1..1, quantised to 8-bit levels."""
    device = linear.device
    batch, _, size, _ = linear.shape
    uniform = lambda *shape: torch.rand(*shape, generator=generator, device=device)
    image = linear * (0.7 + 0.7 * uniform(batch, 1, 1, 1))
    image = gaussian_blur(image, uniform(batch) * 1.0 * (uniform(batch) < 0.7))
    # A photo with the face smaller than the crop: sample down and back up.
    low = uniform(batch) < 0.25
    if bool(low.any()):
        side = int(size * (0.35 + 0.45 * float(uniform(1))))
        small = F.interpolate(image[low], size=(side, side), mode='bilinear', align_corners=False, antialias=True)
        image[low] = F.interpolate(small, size=(size, size), mode='bilinear', align_corners=False)
    encoded = linear_to_srgb(image) ** (0.85 + 0.3 * uniform(batch, 1, 1, 1))
    grey = encoded.mean(1, keepdim=True)
    saturation = torch.where(uniform(batch, 1, 1, 1) < 0.05, torch.zeros(batch, 1, 1, 1, device=device), 0.6 + 0.7 * uniform(batch, 1, 1, 1))
    encoded = (grey + (encoded - grey) * saturation) * (0.92 + 0.16 * uniform(batch, 3, 1, 1))
    encoded = encoded * 255 + torch.randn(encoded.shape, generator=generator, device=device) * 6 * uniform(batch, 1, 1, 1)
    jpeg = uniform(batch) < 0.7
    if bool(jpeg.any()):
        encoded[jpeg] = jpeg_round_trip(encoded[jpeg], 35 + 60 * uniform(int(jpeg.sum())))
    encoded = torch.round(encoded.clamp(0, 255))
    # The crop reaches past the photo's edge: black beyond a random line.
    past = (uniform(batch, 1, 1, 1) < 0.08).float()
    angle, offset = uniform(batch) * 6.2832, 0.3 + 0.25 * uniform(batch)
    ramp = (torch.arange(size, device=device) + 0.5) / size - 0.5
    side = ramp[None, None, :] * torch.cos(angle)[:, None, None] + ramp[None, :, None] * torch.sin(angle)[:, None, None]
    encoded = encoded * (1 - past * (side > offset[:, None, None]).float()[:, None])
    return encoded / 127.5 - 1
