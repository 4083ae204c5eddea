"""Batched face photos rendered straight into the aligned crop, with domain randomisation.

The crop is a similarity of the photo, so the projected vertices mapped by that similarity are
exactly where the photo's crop would show them; rendering there (supersampled, then averaged)
stands in for rendering the photo and cutting it. Shading follows the studio renderer
(src/shading/studio-renderer.ts): albedo x (ambient x ambient occlusion + light x n.l x shadow)
+ Blinn-Phong specular, in the photo's camera space, with wider random ranges; then camera
effects (post_process.py). All colours linear RGB until the sRGB curve.
"""
import torch
import torch.nn.functional as F

from rasterizer import interpolate, interpolate_corners, rasterize, vertex_normals
from scenes import apply_similarity, project

SKIN, MOUTH, EYEBALL, TEETH = 0, 1, 2, 3
SHADOW_MAP_PX = 160
SHADOW_BIAS_MM = 2.0
SHADOW_NORMAL_OFFSET_MM = 2.5  # look up a point this far off the surface: no self-shadow stripes
HAIR_COLOURS = [[0.03, 0.02, 0.015], [0.09, 0.05, 0.03], [0.2, 0.12, 0.06], [0.45, 0.33, 0.18], [0.5, 0.48, 0.45], [0.25, 0.08, 0.03]]


class FaceRenderer:
    def __init__(self, pack, geometry, device, crop_px, supersample):
        self.geometry, self.device, self.crop_px, self.supersample = geometry, device, crop_px, supersample
        self.triangles = torch.from_numpy(pack.array('triangles')).long().to(device)
        self.triangle_uvs = torch.from_numpy(pack.array('triangle_uvs')).to(device)
        self.material = torch.from_numpy(pack.array('triangle_material')).long().to(device)
        neutral = geometry.neutral
        # Per-vertex values the shading reads: ambient occlusion, distance from the iris axis, neutral y and z.
        self.vertex_values = torch.stack([torch.from_numpy(pack.array('vertex_ambient_occlusion')).to(device),
                                          torch.from_numpy(pack.array('vertex_eye_radius_mm')).to(device), neutral[:, 1], neutral[:, 2]], 1)[None]
        self.iris_radius_mm = pack.manifest['renderMesh']['irisRadiusMm']
        self.textures = pack.skin_textures().to(device)
        landmarks = pack.manifest['landmarkVertexIndices']
        self.brow_y_mm = float(neutral[[landmarks[19], landmarks[24]], 1].mean())
        self.forehead_z_mm = float(neutral[[landmarks[19], landmarks[24]], 2].mean())
        self.hair_colours = torch.tensor(HAIR_COLOURS, device=device)

    def render(self, scenes, generator, shadows=True):
        """scenes (scenes.sample_scenes) -> linear RGB [B, 3, S, S] (the photo's crop, before camera effects)."""
        g, device = generator, self.device
        camera = scenes['camera_points']
        batch = camera.shape[0]
        size = self.crop_px * self.supersample
        uniform = lambda *shape: torch.rand(*shape, generator=g, device=device)
        screen = apply_similarity(scenes['similarity'], project(camera, scenes['focal_px'], scenes['principal_px'])) * self.supersample
        raster = rasterize(screen, -camera[..., 2], self.triangles, size, size)
        mask = raster.mask[:, None].float()
        normals = interpolate(raster, self.triangles, vertex_normals(camera, self.triangles))
        normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        position = interpolate(raster, self.triangles, camera)
        values = interpolate(raster, self.triangles, self.vertex_values.expand(batch, -1, -1))
        material = self.material[raster.triangle.clamp_min(0)]
        albedo = self.albedo(raster, material, values, batch, uniform)
        # Light: a key light over the front hemisphere (wider than the studio's), colour, ambient fill.
        azimuth, elevation = (uniform(batch) * 2 - 1) * 1.5, uniform(batch) * 1.5 - 0.5
        light = torch.stack([torch.sin(azimuth) * torch.cos(elevation), torch.sin(elevation), torch.cos(azimuth) * torch.cos(elevation)], 1)
        warm = (uniform(batch) * 2 - 1) * 0.12
        light_rgb = torch.stack([1 + warm, torch.ones_like(warm), 1 - warm], 1) * (0.3 + 0.9 * uniform(batch, 1))
        ambient = 0.08 + 0.5 * uniform(batch, 1)
        ambient_tilt = (uniform(batch, 3) * 2 - 1) * 0.35 + torch.tensor([0.0, 0.25, 0.0], device=device)
        visibility = self.shadow_visibility(camera, position + SHADOW_NORMAL_OFFSET_MM * normals, light) if shadows else torch.ones_like(mask[:, 0])
        visibility = torch.where(uniform(batch, 1, 1) < 0.85, visibility, torch.ones_like(visibility))
        occlusion = 1 - (0.4 + 0.6 * uniform(batch, 1, 1)) * (1 - values[..., 0])
        n_dot_l = (normals * light[:, None, None]).sum(-1).clamp_min(0)
        ambient_term = ambient[:, :, None, None] * (1 + (normals * ambient_tilt[:, None, None]).sum(-1)).clamp_min(0.2)[:, None] * occlusion[:, None]
        direct = light_rgb[:, :, None, None] * (n_dot_l * visibility)[:, None]
        view = -position / position.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        half = light[:, None, None] + view
        half = half / half.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        gloss = torch.tensor([1.0, 0.3, 3.0, 1.5], device=device)[material]
        shininess = (8 + 72 * uniform(batch, 1, 1))
        specular = 0.35 * uniform(batch, 1, 1) * gloss * (normals * half).sum(-1).clamp_min(0) ** shininess * (n_dot_l > 0) * visibility * occlusion
        radiance = albedo * (ambient_term + direct) + specular[:, None] * light_rgb[:, :, None, None]
        image = mask * radiance + (1 - mask) * self.background(batch, size, uniform)
        return F.avg_pool2d(image, self.supersample) if self.supersample > 1 else image

    def albedo(self, raster, material, values, batch, uniform):
        """[B, 3, H, W] linear albedo: skin texture (tone-jittered), hair above a random hairline, eyes, mouth, teeth."""
        device = self.device
        uv = interpolate_corners(raster, self.triangle_uvs)
        grid = torch.stack([uv[..., 0] - 1, 1 - 2 * uv[..., 1]], -1)  # u in [0, 2) spans the width; v up
        texture_index = (uniform(batch) * self.textures.shape[0]).long().clamp_max(self.textures.shape[0] - 1)
        skin = F.grid_sample(self.textures[texture_index], grid, mode='bilinear', padding_mode='border', align_corners=False)
        tone = (0.75 + 0.5 * uniform(batch, 1)) * (0.9 + 0.2 * uniform(batch, 3))
        skin = skin * tone[:, :, None, None]
        # Hair: above a hairline that drops towards the back of the head; texture variation kept.
        hairline = self.brow_y_mm + 30 + 45 * uniform(batch, 1, 1) - 0.6 * (self.forehead_z_mm - values[..., 3]).clamp_min(0)
        has_hair = (uniform(batch, 1, 1) < 0.75).float()
        hair_weight = torch.sigmoid((values[..., 2] - hairline) / 2.5) * has_hair * (material == SKIN)
        colour = self.hair_colours[(uniform(batch) * len(HAIR_COLOURS)).long().clamp_max(len(HAIR_COLOURS) - 1)] * (0.6 + 0.8 * uniform(batch, 1))
        luminance = skin.mean(1, keepdim=True) / skin.mean((1, 2, 3), keepdim=True).clamp_min(1e-3)
        hair = colour[:, :, None, None] * luminance.clamp(0.5, 1.5)
        albedo = skin * (1 - hair_weight[:, None]) + hair * hair_weight[:, None]
        # Eyes from the distance to the iris axis: pupil, iris, sclera.
        radius = values[..., 1]
        pupil = self.iris_radius_mm * (0.25 + 0.25 * uniform(batch, 1, 1))
        iris_rgb = torch.stack([0.03 + 0.35 * uniform(batch), 0.03 + 0.3 * uniform(batch), 0.02 + 0.25 * uniform(batch)], 1)
        sclera_rgb = torch.tensor([0.7, 0.66, 0.62], device=device) * (0.7 + 0.35 * uniform(batch, 1))
        in_iris = torch.sigmoid((self.iris_radius_mm - radius) / 0.3)[:, None]
        in_pupil = torch.sigmoid((pupil - radius) / 0.2)[:, None]
        eye = sclera_rgb[:, :, None, None] * (1 - in_iris) + in_iris * (iris_rgb[:, :, None, None] * (1 - in_pupil) + 0.02 * in_pupil)
        mouth = torch.tensor([0.18, 0.05, 0.05], device=device) * (0.4 + 1.2 * uniform(batch, 1))
        teeth = torch.tensor([0.75, 0.72, 0.62], device=device) * (0.7 + 0.4 * uniform(batch, 1))
        choose = lambda kind: (material == kind)[:, None].float()
        return (albedo * choose(SKIN) + eye * choose(EYEBALL) + mouth[:, :, None, None] * choose(MOUTH) + teeth[:, :, None, None] * choose(TEETH))

    def shadow_visibility(self, camera, position, light):
        """[B, H, W] 0..1: whether the key light reaches each pixel's surface point (orthographic shadow map)."""
        helper = torch.where(light[:, 1:2].abs() < 0.9, torch.tensor([[0.0, 1.0, 0.0]], device=self.device), torch.tensor([[1.0, 0.0, 0.0]], device=self.device))
        axis_u = torch.cross(helper, light, dim=1)
        axis_u = axis_u / axis_u.norm(dim=1, keepdim=True)
        axis_v = torch.cross(light, axis_u, dim=1)
        frame = torch.stack([axis_u, axis_v, -light], 1)  # rows: u, v, depth away from the light
        light_space = camera @ frame.transpose(1, 2)
        low, high = light_space.min(1).values, light_space.max(1).values
        centre, half = (low + high) / 2, ((high - low)[:, :2].max(1).values / 2 * 1.05 + 1)
        to_map = lambda p: ((p[..., :2] - centre[:, None, :2]) / half[:, None, None] + 1) * 0.5 * SHADOW_MAP_PX
        depth = light_space[..., 2] - low[:, None, 2] + 10
        raster = rasterize(to_map(light_space), depth, self.triangles, SHADOW_MAP_PX, SHADOW_MAP_PX, cull_back_faces=False, orthographic=True)
        stored = interpolate(raster, self.triangles, depth[..., None])[..., 0]
        stored = torch.where(raster.mask, stored, torch.full_like(stored, 1e9))
        batch, height, width, _ = position.shape
        point = position.view(batch, -1, 3) @ frame.transpose(1, 2)
        grid = to_map(point) / SHADOW_MAP_PX * 2 - 1
        seen = F.grid_sample(stored[:, None], grid[:, None], mode='nearest', padding_mode='border', align_corners=False)[:, 0, 0]
        point_depth = point[..., 2] - low[:, None, 2] + 10
        return (point_depth <= seen + SHADOW_BIAS_MM).float().view(batch, height, width)

    def background(self, batch, size, uniform):
        """Gradients between two colours times multi-scale value noise, sometimes flat, sometimes cluttered."""
        device = self.device
        colour_a, colour_b = 0.02 + 0.8 * uniform(batch, 3) ** 1.5, 0.02 + 0.8 * uniform(batch, 3) ** 1.5
        angle = uniform(batch) * 6.2832
        ramp = torch.linspace(-0.5, 0.5, size, device=device)
        t = (ramp[None, None, :] * torch.cos(angle)[:, None, None] + ramp[None, :, None] * torch.sin(angle)[:, None, None] + 0.5).clamp(0, 1)
        base = colour_a[:, :, None, None] * (1 - t[:, None]) + colour_b[:, :, None, None] * t[:, None]
        noise = torch.zeros(batch, 3, size, size, device=device)
        for cells, weight in ((4, 0.5), (8, 0.3), (16, 0.15), (48, 0.08)):
            coarse = uniform(batch, 1, cells, cells) + 0.3 * (uniform(batch, 3, cells, cells) - 0.5)
            noise += weight * F.interpolate(coarse, size=(size, size), mode='bicubic', align_corners=False)
        amount = uniform(batch, 1, 1, 1) * 0.9 * (uniform(batch, 1, 1, 1) < 0.85)
        return (base * (1 + 2 * amount * (noise - 0.5))).clamp(0, 1)
