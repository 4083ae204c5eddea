"""A batched triangle rasteriser in plain torch, with the coverage rule of src/raster/rasterize.ts.

Every triangle's pixel-centre bounding box is enumerated exactly (repeat_interleave over the box
areas, so no fixed window and no missed pixels), the edge functions decide coverage with the top-left
rule, and the nearest surface wins through one scatter-reduce (amin) of a 64-bit key: depth in
1/2^20 mm steps above, the triangle index below (equal depths: the triangle listed first, as in TS).
Barycentrics of the winners are then recomputed perspective-correctly. Screen space: x right,
y down, pixel (i, j) has its centre at (i + 0.5, j + 0.5).
"""
import torch

TRIANGLE_BITS = 20
EMPTY_KEY = torch.iinfo(torch.int64).max
NEAR_MM = 1.0


class Rasterization:
    """triangle [B, H, W] long (-1 where empty) and perspective-correct barycentrics [B, H, W, 3]."""

    def __init__(self, triangle, barycentrics):
        self.triangle, self.barycentrics = triangle, barycentrics

    @property
    def mask(self):
        return self.triangle >= 0


def _nearest_per_pixel(pixel, key, pixel_count):
    """[pixel_count] int64: the least key written to each pixel (EMPTY_KEY where none)."""
    buffer = torch.full((pixel_count,), EMPTY_KEY, dtype=torch.int64, device=key.device)
    try:
        return buffer.scatter_reduce_(0, pixel, key, reduce='amin', include_self=True)
    except RuntimeError:  # a build without int64 amin: sort by key, then stably by pixel, keep each pixel's first
        by_key = torch.argsort(key)
        order = by_key[torch.sort(pixel[by_key], stable=True).indices]
        first = torch.ones_like(order, dtype=torch.bool)
        first[1:] = pixel[order[1:]] != pixel[order[:-1]]
        buffer[pixel[order[first]]] = key[order[first]]
        return buffer


def _edge(ax, ay, bx, by, px, py):
    """(b - a) x (p - a): positive on the left of a->b in a y-down frame."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _top_left(dx, dy):
    return (dy < 0) | ((dy == 0) & (dx > 0))


def rasterize(screen_xy, depth_mm, triangles, height, width, cull_back_faces=True, orthographic=False):
    """screen_xy [B, V, 2] px, depth_mm [B, V] (> 0 in front), triangles [F, 3] long -> Rasterization.

    Back faces are those clockwise on screen with y up (as TS's cullBackFaces): counter-clockwise
    meshes seen from outside survive. Triangles with a vertex nearer than NEAR_MM are skipped.
    `orthographic`: depth and barycentrics interpolate linearly on screen (shadow maps)."""
    device = screen_xy.device
    batch, _, _ = screen_xy.shape
    assert triangles.shape[0] < 2 ** TRIANGLE_BITS
    corners = screen_xy[:, triangles]  # [B, F, 3, 2]
    z = depth_mm[:, triangles]  # [B, F, 3]
    x0, x1, x2 = corners[..., 0, 0], corners[..., 1, 0], corners[..., 2, 0]
    y0, y1, y2 = corners[..., 0, 1], corners[..., 1, 1], corners[..., 2, 1]
    area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    keep = (area2 != 0) & (z > NEAR_MM).all(-1) & torch.isfinite(corners).all(-1).all(-1)
    if cull_back_faces:
        keep &= area2 < 0  # counter-clockwise with y up is negative area with y down
    min_x, max_x = corners[..., 0].min(-1).values, corners[..., 0].max(-1).values
    min_y, max_y = corners[..., 1].min(-1).values, corners[..., 1].max(-1).values
    col_start = torch.ceil(min_x - 0.5).clamp(0, width).long()
    col_end = torch.floor(max_x - 0.5).clamp(-1, width - 1).long()
    row_start = torch.ceil(min_y - 0.5).clamp(0, height).long()
    row_end = torch.floor(max_y - 0.5).clamp(-1, height - 1).long()
    keep &= (col_end >= col_start) & (row_end >= row_start)
    sample, face = keep.nonzero(as_tuple=True)
    box_width = (col_end - col_start + 1)[sample, face]
    counts = box_width * (row_end - row_start + 1)[sample, face]
    total = int(counts.sum())
    owner = torch.repeat_interleave(torch.arange(sample.shape[0], device=device), counts, output_size=total)
    local = torch.arange(total, device=device) - (torch.cumsum(counts, 0) - counts)[owner]
    px = col_start[sample, face][owner] + local % box_width[owner]
    py = row_start[sample, face][owner] + torch.div(local, box_width[owner], rounding_mode='floor')
    cs, cf = sample[owner], face[owner]
    cx, cy = px.to(screen_xy.dtype) + 0.5, py.to(screen_xy.dtype) + 0.5
    ax, bx, qx = x0[cs, cf], x1[cs, cf], x2[cs, cf]
    ay, by, qy = y0[cs, cf], y1[cs, cf], y2[cs, cf]
    e0, e1, e2 = _edge(bx, by, qx, qy, cx, cy), _edge(qx, qy, ax, ay, cx, cy), _edge(ax, ay, bx, by, cx, cy)
    sign = torch.sign(area2[cs, cf])
    # Orient every triangle so that inside is e >= 0; an edge exactly through a pixel centre belongs
    # to the triangle for which it is a top or left edge (TS's fill rule).
    inside = torch.ones_like(cx, dtype=torch.bool)
    for e, dx, dy in ((e0, qx - bx, qy - by), (e1, ax - qx, ay - qy), (e2, bx - ax, by - ay)):
        oriented = e * sign
        inside &= (oriented > 0) | ((oriented == 0) & _top_left(dx * sign, dy * sign))
    area = area2[cs, cf]
    if orthographic:
        depth = (e0 * z[cs, cf, 0] + e1 * z[cs, cf, 1] + e2 * z[cs, cf, 2]) / area
    else:
        depth = 1.0 / ((e0 / z[cs, cf, 0] + e1 / z[cs, cf, 1] + e2 / z[cs, cf, 2]) / area).clamp_min(1e-9)
    depth_steps = (depth * 2 ** TRIANGLE_BITS).clamp(0, 2 ** 42).long()
    key = depth_steps * (2 ** TRIANGLE_BITS) + cf
    pixel = (cs * height + py) * width + px
    key, pixel = key[inside], pixel[inside]
    buffer = _nearest_per_pixel(pixel, key, batch * height * width)
    covered = buffer != EMPTY_KEY
    triangle = torch.where(covered, buffer % (2 ** TRIANGLE_BITS), torch.full_like(buffer, -1))
    barycentrics = torch.zeros(batch * height * width, 3, dtype=screen_xy.dtype, device=device)
    where = covered.nonzero(as_tuple=True)[0]
    if where.numel():
        ws = torch.div(where, height * width, rounding_mode='floor')
        rest = where - ws * height * width
        wy = torch.div(rest, width, rounding_mode='floor')
        wx = rest - wy * width
        wf = triangle[where]
        px_, py_ = wx.to(screen_xy.dtype) + 0.5, wy.to(screen_xy.dtype) + 0.5
        lam = torch.stack([
            _edge(x1[ws, wf], y1[ws, wf], x2[ws, wf], y2[ws, wf], px_, py_),
            _edge(x2[ws, wf], y2[ws, wf], x0[ws, wf], y0[ws, wf], px_, py_),
            _edge(x0[ws, wf], y0[ws, wf], x1[ws, wf], y1[ws, wf], px_, py_)], -1)
        if not orthographic:
            lam = lam / z[ws, wf]
        barycentrics[where] = lam / lam.sum(-1, keepdim=True)
    return Rasterization(triangle.view(batch, height, width), barycentrics.view(batch, height, width, 3))


def interpolate(rasterization, triangles, vertex_values):
    """Per-vertex values [B, V, C] -> per-pixel [B, H, W, C] (0 where empty)."""
    batch, height, width = rasterization.triangle.shape
    triangle = rasterization.triangle.clamp_min(0)
    corner_vertices = triangles[triangle.view(batch, -1)]  # [B, HW, 3]
    index = corner_vertices.view(batch, -1, 1).expand(-1, -1, vertex_values.shape[-1])
    values = torch.gather(vertex_values, 1, index).view(batch, height * width, 3, -1)
    out = (values * rasterization.barycentrics.view(batch, -1, 3, 1)).sum(2)
    return (out * rasterization.mask.view(batch, -1, 1)).view(batch, height, width, -1)


def interpolate_corners(rasterization, corner_values):
    """Per-triangle-corner values [F, 3, C] (e.g. UVs across seams) -> per-pixel [B, H, W, C]."""
    values = corner_values[rasterization.triangle.clamp_min(0)]  # [B, H, W, 3, C]
    out = (values * rasterization.barycentrics.unsqueeze(-1)).sum(-2)
    return out * rasterization.mask.unsqueeze(-1)


def vertex_normals(points, triangles):
    """Area-weighted vertex normals [B, V, 3] of points [B, V, 3] (counter-clockwise = outward)."""
    a, b, c = points[:, triangles[:, 0]], points[:, triangles[:, 1]], points[:, triangles[:, 2]]
    face = torch.cross(b - a, c - a, dim=-1)
    sums = torch.zeros_like(points)
    for k in range(3):
        sums.index_add_(1, triangles[:, k], face)
    return sums / sums.norm(dim=-1, keepdim=True).clamp_min(1e-12)
