"""Render a synthetic face test set with Blender Cycles, a renderer facegar does not own.

Run (Debian: apt-get install blender python3-numpy):
  blender -b --python scripts/render-cycles-set.py -- --model MODEL_DIR --out SET_DIR --count 60 --seed 1

Each face is its own scene, drawn from the seed alone (the same seed and index give the same
scene): an ICT-FaceKit head (face, head and neck, mouth and eye sockets, teeth, gums, eyeballs)
with a random identity (100 coefficients ~ N(0, 1)), 0-3 expressions (weights 0-0.7), yaw up to
+-75 deg, pitch +-15, roll +-10, focal length 1.0-3.5 x the image width, varied face size, 1-3
area/sun lights of varied direction and colour plus a world colour, a background plane with a
flat, gradient, noise or checker material, and skin as a Principled BSDF with subsurface
scattering, varied tone, noise bumps, blotches and roughness.

Output, per face NNNN (the layout `facegar eval synthetic --set DIR` reads; README "Accuracy"):
  NNNN.png   the photo, 8-bit RGB, size x size
  NNNN.f32   the full face area's 9,409 vertices in model space (mm), float32 little-endian x,y,z
  NNNN.json  the truth: identity, expression, pose (p_cam = R p + t, mm), focal length and
             principal point (px), 68 landmarks projected with that camera, their visibility
  set.json   the list of faces and how they were made
Camera space: right-handed, +y up, looking down -z; u = cx + f x / -z, v = cy - f y / -z, pixel
centres at +0.5, origin top-left (src/geometry/camera.ts). Faces already written are skipped,
so an interrupted run resumes.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import bpy
import numpy as np
from mathutils import Matrix, Vector

SCRIPT_VERSION = '1'
FULL_FACE_VERTICES = 9409
# Polygons kept (ICT-FaceKit README): face, head and neck, mouth socket, eye sockets, gums and
# tongue, teeth, eyeballs. Lacrimal fluid, eye blend/occlusion meshes and eyelashes need
# transparent shaders: left out.
KEPT_MATERIALS = ['M_Face', 'M_BackHead', 'M_GumsTongue', 'M_Teeth', 'M_ScleraLeft', 'M_IrisLeft', 'M_ScleraRight', 'M_IrisRight']
SOCKET_POLYGONS = (11144, 14034)  # mouth and eye sockets: inside the head, darker
SCLERA_IRIS_LEFT = ((21451, 22221), (22221, 23021))  # vertex ranges
SCLERA_IRIS_RIGHT = ((23021, 23791), (23791, 24591))
MM = 0.001  # Blender works in metres


def parse_args():
    argv = sys.argv[sys.argv.index('--') + 1:] if '--' in sys.argv else []
    parser = argparse.ArgumentParser(prog='render-cycles-set.py')
    parser.add_argument('--model', default=os.environ.get('FACEGAR_MODEL_DIR'), help='ICT-FaceKit folder (default $FACEGAR_MODEL_DIR)')
    parser.add_argument('--out', required=True)
    parser.add_argument('--count', type=int, default=60)
    parser.add_argument('--first', type=int, default=0, help='index of the first face (to split a set over runs)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--samples', type=int, default=32)
    parser.add_argument('--threads', type=int, default=0, help='render threads (0 = all)')
    parser.add_argument('--photos-per-person', type=int, default=1,
                        help='N > 1: faces N*p ... N*p+N-1 are one person (identity, skin tone, iris) in N scenes of their own')
    args = parser.parse_args(argv)
    if not args.model:
        parser.error('--model or FACEGAR_MODEL_DIR is needed')
    if args.photos_per_person < 1:
        parser.error(f'--photos-per-person must be 1 or more (got {args.photos_per_person})')
    return args


def read_obj(path, topology=False):
    """Positions [V, 3] (file units: cm), and with topology the polygons and their material names."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt') as f:
        text = f.read()
    lines = text.split('\n')
    coords = ' '.join(line[2:] for line in lines if line.startswith('v '))
    positions = np.array(coords.split(), dtype=np.float64).reshape(-1, 3)
    if not topology:
        return positions
    polygons, materials, material = [], [], None
    for line in lines:
        if line.startswith('usemtl '):
            material = line.split()[1]
        elif line.startswith('f '):
            polygons.append([int(token.split('/')[0]) - 1 for token in line.split()[1:]])
            materials.append(material)
    return positions, polygons, materials


def model_file(model_dir, name):
    for candidate in (name + '.obj.gz', name + '.obj'):
        path = os.path.join(model_dir, candidate)
        if os.path.exists(path):
            return path
    raise SystemExit(f'render-cycles-set: {name}.obj(.gz) missing from {model_dir}')


def load_model(model_dir):
    started = time.time()
    with open(os.path.join(model_dir, 'vertex_indices.json')) as f:
        indices = json.load(f)
    neutral, polygons, materials = read_obj(model_file(model_dir, 'generic_neutral_mesh'), topology=True)
    identity = np.stack([read_obj(model_file(model_dir, f'identity{m:03d}')) - neutral for m in range(100)])
    names = indices['expressions']
    expression = np.stack([read_obj(model_file(model_dir, name)) - neutral for name in names])
    print(f'render-cycles-set: model read in {time.time() - started:.1f} s', flush=True)
    # cm -> mm, as facegar's loader.
    return {'neutral': neutral * 10, 'identity': identity * 10, 'expression': expression * 10, 'expressionNames': names,
            'polygons': polygons, 'materials': materials, 'landmarks': indices['idx_to_landmark_verts']}


def rotation_from_euler(pitch, yaw, roll):
    """R = Rz(roll) Ry(yaw) Rx(pitch), radians (src/geometry/rotation.ts)."""
    cx, sx, cy, sy, cz, sz = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw), math.cos(roll), math.sin(roll)
    return np.array([[cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
                     [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
                     [-sy, cy * sx, cy * cx]])


SKIN_TONES = [(0.87, 0.70, 0.60), (0.80, 0.60, 0.48), (0.70, 0.50, 0.38), (0.58, 0.40, 0.29), (0.45, 0.30, 0.21), (0.32, 0.21, 0.15), (0.90, 0.74, 0.66)]
IRIS_COLOURS = [(0.25, 0.14, 0.06), (0.12, 0.07, 0.03), (0.22, 0.35, 0.50), (0.25, 0.35, 0.20), (0.40, 0.30, 0.15)]


def sample_scene(model, seed, index, size, photos_per_person=1):
    """Every random choice of one face, from (seed, index) alone; with photos_per_person N > 1 the
    person (identity, skin tone, iris colour) comes from (seed, index // N) and the rest stays the face's."""
    rng = np.random.default_rng([seed, index, 0xFACE])
    u = lambda low, high: float(rng.uniform(low, high))
    identity = rng.normal(size=100)
    expression = np.zeros(len(model['expressionNames']))
    for k in rng.choice(len(expression), size=int(rng.integers(0, 4)), replace=False):
        expression[k] = u(0, 0.7)
    angles = [u(-15, 15), u(-75, 75), u(-10, 10)]  # pitch, yaw, roll (deg)
    focal = size * u(1.0, 3.5)
    face_fraction = u(0.28, 0.6)  # face height (190 mm) over the image height
    distance = focal * 190 / (face_fraction * size)
    shift = [u(-0.08, 0.08) * size * distance / focal, u(-0.08, 0.08) * size * distance / focal]
    lights = []
    for k in range(int(rng.integers(1, 4))):
        azimuth = u(-100, 100) if k == 0 else u(-180, 180)
        elevation = u(-25, 70)
        temperature = u(-0.15, 0.15)
        lights.append({'kind': 'SUN' if rng.random() < 0.3 else 'AREA', 'azimuthDeg': azimuth, 'elevationDeg': elevation,
                       'distanceMm': u(700, 2500), 'sizeMm': u(150, 1200), 'softnessDeg': u(1, 15),
                       'colour': [1 + temperature, 1, 1 - temperature + u(-0.05, 0.05)], 'strength': u(0.5, 1.0) if k == 0 else u(0.1, 0.5)})
    tone = np.array(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]) * rng.uniform(0.9, 1.1, size=3)
    scene = {
        'identity': identity, 'expression': expression, 'anglesDeg': angles, 'focalPx': focal, 'distanceMm': distance, 'shiftMm': shift,
        'lights': lights, 'world': {'colour': list(rng.uniform(0.2, 1.0, size=3)), 'strength': u(0.05, 0.35)},
        'background': {'kind': ['flat', 'gradient', 'noise', 'checker'][int(rng.integers(4))], 'colourA': list(rng.uniform(0.03, 0.8, size=3)),
                       'colourB': list(rng.uniform(0.03, 0.8, size=3)), 'scale': u(2, 30), 'distanceMm': u(300, 2500)},
        'skin': {'tone': list(np.clip(tone, 0, 1)), 'subsurface': u(0.1, 0.4), 'roughness': u(0.35, 0.65), 'specular': u(0.3, 0.6),
                 'bump': u(0.03, 0.2), 'poreScale': u(150, 400), 'blotch': u(0.0, 0.35), 'blotchScale': u(8, 30), 'lipRedness': u(0.1, 0.4),
                 'browDarkness': u(0.2, 0.7)},
        'irisColour': list(np.array(IRIS_COLOURS[int(rng.integers(len(IRIS_COLOURS)))]) * u(0.7, 1.3)),
        'exposure': u(-0.4, 0.4),
    }
    if photos_per_person > 1:
        # Drawn after the face's own choices, which stay as they are for N = 1.
        person_rng = np.random.default_rng([seed, index // photos_per_person, 0x9E750])
        scene['identity'] = person_rng.normal(size=100)
        tone = np.array(SKIN_TONES[int(person_rng.integers(len(SKIN_TONES)))]) * person_rng.uniform(0.9, 1.1, size=3)
        scene['skin']['tone'] = list(np.clip(tone, 0, 1))
        scene['irisColour'] = list(np.array(IRIS_COLOURS[int(person_rng.integers(len(IRIS_COLOURS)))]) * person_rng.uniform(0.7, 1.3))
    return scene


def region_weights(model):
    """Per-vertex brow and lip weights (0..1) from the distance to the brow and lip landmarks, for colour."""
    neutral = model['neutral']
    lm = neutral[model['landmarks']]
    def near(points, radius):
        d = np.min(np.linalg.norm(neutral[:, None, :] - points[None, :, :], axis=2), axis=1)
        return np.exp(-0.5 * (d / radius) ** 2)
    brows = np.concatenate([lm[17:22], (lm[17:21] + lm[18:22]) / 2, lm[22:27], (lm[22:26] + lm[23:27]) / 2])
    lips = np.concatenate([lm[48:68], (lm[48:59] + lm[49:60]) / 2])
    weights = np.zeros((len(neutral), 3))
    # The sclera mesh's front cap is the cornea, over the iris: colour it as the iris (B = 0.5)
    # and the pupil (B = 1) by the angle from the eye's axis, so the eyes are not blank.
    for sclera, iris in (SCLERA_IRIS_LEFT, SCLERA_IRIS_RIGHT):
        centre = neutral[sclera[0]:sclera[1]].mean(axis=0)
        axis = neutral[iris[0]:iris[1]].mean(axis=0) - centre
        axis /= np.linalg.norm(axis)
        def angle(points):
            d = points - centre
            return np.degrees(np.arccos(np.clip(d @ axis / np.linalg.norm(d, axis=1), -1, 1)))
        iris_angle = angle(neutral[iris[0]:iris[1]]).max()
        a = angle(neutral[sclera[0]:sclera[1]])
        weights[sclera[0]:sclera[1], 2] = np.where(a < 0.4 * iris_angle, 1.0, np.where(a < 0.85 * iris_angle, 0.5, 0.0))
    weights[:FULL_FACE_VERTICES, 0] = near(brows, 4.0)[:FULL_FACE_VERTICES]
    weights[:FULL_FACE_VERTICES, 1] = near(lips, 3.0)[:FULL_FACE_VERTICES]
    return weights


def node_material(name, build):
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new('ShaderNodeOutputMaterial')
    links.new(build(nodes, links), output.inputs['Surface'])
    return material


def principled(nodes, colour, roughness, specular=0.5, subsurface=0.0):
    bsdf = nodes.new('ShaderNodeBsdfPrincipled')
    bsdf.inputs['Base Color'].default_value = (*colour, 1)
    bsdf.inputs['Roughness'].default_value = roughness
    bsdf.inputs['Specular'].default_value = specular
    bsdf.inputs['Subsurface'].default_value = subsurface
    return bsdf


def skin_material(skin):
    def build(nodes, links):
        bsdf = principled(nodes, skin['tone'], skin['roughness'], skin['specular'], skin['subsurface'])
        bsdf.subsurface_method = 'BURLEY'
        # Metres (scene units): skin scatters a few millimetres in red, less in green and blue.
        bsdf.inputs['Subsurface Radius'].default_value = (0.0036, 0.0014, 0.0007)
        bsdf.inputs['Subsurface Color'].default_value = (0.9, 0.35, 0.25, 1)
        coords = nodes.new('ShaderNodeTexCoord')
        # Blotches: low-frequency noise mixing the tone with a redder, darker one.
        blotch = nodes.new('ShaderNodeTexNoise')
        blotch.inputs['Scale'].default_value = skin['blotchScale']
        links.new(coords.outputs['Object'], blotch.inputs['Vector'])
        tone = np.array(skin['tone'])
        mix = nodes.new('ShaderNodeMixRGB')
        mix.inputs['Color1'].default_value = (*tone, 1)
        mix.inputs['Color2'].default_value = (*(tone * np.array([1.0, 0.75, 0.75])), 1)
        ramp = nodes.new('ShaderNodeMath')
        ramp.operation = 'MULTIPLY'
        ramp.inputs[1].default_value = skin['blotch'] * 2
        links.new(blotch.outputs['Fac'], ramp.inputs[0])
        links.new(ramp.outputs[0], mix.inputs['Fac'])
        # Brows darker, lips redder, from per-vertex weights (attribute "regions": brow, lip, 0).
        regions = nodes.new('ShaderNodeVertexColor')
        regions.layer_name = 'regions'
        split = nodes.new('ShaderNodeSeparateColor')
        links.new(regions.outputs['Color'], split.inputs['Color'])
        brow = nodes.new('ShaderNodeMixRGB')
        brow.blend_type = 'MULTIPLY'
        brow.inputs['Color2'].default_value = (*(np.array([0.25, 0.2, 0.17]) / max(0.2, tone.mean())), 1)
        brow_amount = nodes.new('ShaderNodeMath')
        brow_amount.operation = 'MULTIPLY'
        brow_amount.inputs[1].default_value = skin['browDarkness']
        links.new(split.outputs['Red'], brow_amount.inputs[0])
        links.new(brow_amount.outputs[0], brow.inputs['Fac'])
        links.new(mix.outputs['Color'], brow.inputs['Color1'])
        lip = nodes.new('ShaderNodeMixRGB')
        lip.blend_type = 'MULTIPLY'
        lip.inputs['Color2'].default_value = (1.0, 0.55, 0.55, 1)
        lip_amount = nodes.new('ShaderNodeMath')
        lip_amount.operation = 'MULTIPLY'
        lip_amount.inputs[1].default_value = skin['lipRedness'] * 2.5
        links.new(split.outputs['Green'], lip_amount.inputs[0])
        links.new(lip_amount.outputs[0], lip.inputs['Fac'])
        links.new(brow.outputs['Color'], lip.inputs['Color1'])
        links.new(lip.outputs['Color'], bsdf.inputs['Base Color'])
        # Roughness varies with the blotches; pores as a fine bump.
        rough = nodes.new('ShaderNodeMapRange')
        rough.inputs['To Min'].default_value = skin['roughness'] - 0.1
        rough.inputs['To Max'].default_value = skin['roughness'] + 0.1
        links.new(blotch.outputs['Fac'], rough.inputs['Value'])
        links.new(rough.outputs['Result'], bsdf.inputs['Roughness'])
        pores = nodes.new('ShaderNodeTexNoise')
        pores.inputs['Scale'].default_value = skin['poreScale']
        pores.inputs['Detail'].default_value = 4
        links.new(coords.outputs['Object'], pores.inputs['Vector'])
        bump = nodes.new('ShaderNodeBump')
        bump.inputs['Strength'].default_value = skin['bump']
        bump.inputs['Distance'].default_value = 0.0005
        links.new(pores.outputs['Fac'], bump.inputs['Height'])
        links.new(bump.outputs['Normal'], bsdf.inputs['Normal'])
        return bsdf.outputs['BSDF']
    return node_material('skin', build)


def background_material(background):
    def build(nodes, links):
        bsdf = principled(nodes, background['colourA'], 0.8, 0.2)
        kind = background['kind']
        if kind == 'flat':
            return bsdf.outputs['BSDF']
        coords = nodes.new('ShaderNodeTexCoord')
        mix = nodes.new('ShaderNodeMixRGB')
        mix.inputs['Color1'].default_value = (*background['colourA'], 1)
        mix.inputs['Color2'].default_value = (*background['colourB'], 1)
        if kind == 'gradient':
            texture = nodes.new('ShaderNodeTexGradient')
            links.new(coords.outputs['Generated'], texture.inputs['Vector'])
        elif kind == 'noise':
            texture = nodes.new('ShaderNodeTexNoise')
            texture.inputs['Scale'].default_value = background['scale'] / 4
            links.new(coords.outputs['Generated'], texture.inputs['Vector'])
        else:
            texture = nodes.new('ShaderNodeTexChecker')
            texture.inputs['Scale'].default_value = background['scale']
            links.new(coords.outputs['Generated'], texture.inputs['Vector'])
        links.new(texture.outputs['Fac' if kind != 'checker' else 'Fac'], mix.inputs['Fac'])
        links.new(mix.outputs['Color'], bsdf.inputs['Base Color'])
        return bsdf.outputs['BSDF']
    return node_material('background', build)


def eye_material(iris_colour):
    """Sclera, iris and pupil by the vertex attribute "regions".B (0, 0.5, 1)."""
    def build(nodes, links):
        bsdf = principled(nodes, (0.8, 0.77, 0.74), 0.1, 0.7)
        regions = nodes.new('ShaderNodeVertexColor')
        regions.layer_name = 'regions'
        split = nodes.new('ShaderNodeSeparateColor')
        links.new(regions.outputs['Color'], split.inputs['Color'])
        ramp = nodes.new('ShaderNodeValToRGB')
        ramp.color_ramp.interpolation = 'CONSTANT'
        ramp.color_ramp.elements[0].color = (0.8, 0.77, 0.74, 1)
        ramp.color_ramp.elements[1].position = 0.75
        ramp.color_ramp.elements[1].color = (0.01, 0.01, 0.01, 1)
        middle = ramp.color_ramp.elements.new(0.25)
        middle.color = (*iris_colour, 1)
        links.new(split.outputs['Blue'], ramp.inputs['Fac'])
        links.new(ramp.outputs['Color'], bsdf.inputs['Base Color'])
        return bsdf.outputs['BSDF']
    return node_material('eye', build)


def simple_material(name, colour, roughness, specular=0.5, subsurface=0.0):
    return node_material(name, lambda nodes, links: principled(nodes, colour, roughness, specular, subsurface).outputs['BSDF'])


def build_scene(model, scene_spec, vertices_mm, rotation, translation_mm, size, samples, threads, regions):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = 'CYCLES'
    scene.cycles.device = 'CPU'
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.use_denoising = False  # Debian's build has no OpenImageDenoise
    scene.cycles.max_bounces = 4
    scene.cycles.diffuse_bounces = 2
    scene.cycles.glossy_bounces = 2
    scene.cycles.transmission_bounces = 0
    scene.cycles.transparent_max_bounces = 2
    scene.cycles.seed = 0
    # Subsurface scattering at modest sample counts gives fireflies: clamp the indirect light.
    scene.cycles.sample_clamp_indirect = 3.0
    scene.cycles.sample_clamp_direct = 10.0
    if threads > 0:
        scene.render.threads_mode = 'FIXED'
        scene.render.threads = threads
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = 'PNG'
    scene.render.image_settings.color_mode = 'RGB'
    scene.render.image_settings.color_depth = '8'
    scene.view_settings.view_transform = 'Filmic'
    scene.view_settings.look = 'Medium High Contrast'
    scene.view_settings.exposure = scene_spec['exposure']

    world = bpy.data.worlds.new('world')
    scene.world = world
    world.use_nodes = True
    background = world.node_tree.nodes['Background']
    background.inputs['Color'].default_value = (*scene_spec['world']['colour'], 1)
    background.inputs['Strength'].default_value = scene_spec['world']['strength']

    # Camera at the origin looking down -z, +y up: Blender's camera frame is facegar's camera space.
    camera_data = bpy.data.cameras.new('camera')
    camera_data.sensor_fit = 'HORIZONTAL'
    camera_data.sensor_width = 36.0
    camera_data.lens = scene_spec['focalPx'] * 36.0 / size
    camera_data.clip_start = 0.01
    camera_data.clip_end = 100.0
    camera = bpy.data.objects.new('camera', camera_data)
    scene.collection.objects.link(camera)
    scene.camera = camera

    # The head: model-space mesh (m), placed by the object matrix [R | t].
    kept = [i for i, m in enumerate(model['materials']) if m in KEPT_MATERIALS]
    used = sorted({v for i in kept for v in model['polygons'][i]})
    remap = np.full(len(vertices_mm), -1)
    remap[used] = np.arange(len(used))
    mesh = bpy.data.meshes.new('head')
    mesh.from_pydata((vertices_mm[used] * MM).tolist(), [], [[int(remap[v]) for v in model['polygons'][i]] for i in kept])
    materials = {
        'skin': skin_material(scene_spec['skin']),
        'socket': simple_material('socket', np.array(scene_spec['skin']['tone']) * np.array([0.5, 0.25, 0.25]), 0.5, 0.3),
        'gums': simple_material('gums', (0.55, 0.18, 0.18), 0.35, 0.5, 0.1),
        'teeth': simple_material('teeth', (0.85, 0.8, 0.7), 0.3, 0.5),
        'sclera': eye_material(scene_spec['irisColour']),
        'iris': simple_material('iris', scene_spec['irisColour'], 0.2, 0.6),
    }
    order = list(materials)
    for material in materials.values():
        mesh.materials.append(material)
    slot = {'M_Face': 'skin', 'M_BackHead': 'skin', 'M_GumsTongue': 'gums', 'M_Teeth': 'teeth', 'M_ScleraLeft': 'sclera', 'M_ScleraRight': 'sclera', 'M_IrisLeft': 'iris', 'M_IrisRight': 'iris'}
    indices = [order.index('socket' if SOCKET_POLYGONS[0] <= i < SOCKET_POLYGONS[1] else slot[model['materials'][i]]) for i in kept]
    mesh.polygons.foreach_set('material_index', indices)
    colours = mesh.color_attributes.new('regions', 'FLOAT_COLOR', 'POINT')
    rgba = np.zeros((len(used), 4))
    rgba[:, :3] = regions[used]
    rgba[:, 3] = 1
    colours.data.foreach_set('color', rgba.ravel())
    mesh.polygons.foreach_set('use_smooth', [True] * len(mesh.polygons))
    mesh.update()
    head = bpy.data.objects.new('head', mesh)
    scene.collection.objects.link(head)
    world_matrix = Matrix.Identity(4)
    for r in range(3):
        for c in range(3):
            world_matrix[r][c] = rotation[r, c]
        world_matrix[r][3] = translation_mm[r] * MM
    head.matrix_world = world_matrix

    # Background plane facing the camera, far enough behind the head, filling the view.
    spec = scene_spec['background']
    depth = (scene_spec['distanceMm'] + 150 + spec['distanceMm']) * MM
    half = 0.75 * depth * size / scene_spec['focalPx']
    plane = bpy.data.meshes.new('background')
    plane.from_pydata([(-half, -half, -depth), (half, -half, -depth), (half, half, -depth), (-half, half, -depth)], [], [(0, 1, 2, 3)])
    plane.materials.append(background_material(spec))
    backdrop = bpy.data.objects.new('background', plane)
    scene.collection.objects.link(backdrop)

    centre = np.array(translation_mm) * MM  # roughly the head in camera space
    for k, light in enumerate(scene_spec['lights']):
        azimuth, elevation = math.radians(light['azimuthDeg']), math.radians(light['elevationDeg'])
        # Direction from the head towards the light, camera space (azimuth 0 = towards the camera).
        direction = Vector((math.sin(azimuth) * math.cos(elevation), math.sin(elevation), math.cos(azimuth) * math.cos(elevation)))
        data = bpy.data.lights.new(f'light{k}', light['kind'])
        data.color = light['colour']
        if light['kind'] == 'SUN':
            data.energy = 3.0 * light['strength']
            data.angle = math.radians(light['softnessDeg'])
            location = Vector(centre) + direction
        else:
            distance = light['distanceMm'] * MM
            data.size = light['sizeMm'] * MM
            # Power so that irradiance at the head does not depend on the distance.
            data.energy = 15.0 * light['strength'] * distance ** 2
            location = Vector(centre) + direction * distance
        lamp = bpy.data.objects.new(f'light{k}', data)
        lamp.location = location
        lamp.rotation_euler = (-direction).to_track_quat('-Z', 'Y').to_euler()
        scene.collection.objects.link(lamp)
    return scene, head, len(used), remap


def landmark_visibility(scene, points_camera_mm):
    """A landmark is visible when a ray from the camera first hits the scene within 2 mm of it."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    visible = []
    for p in points_camera_mm:
        target = Vector(p) * MM
        hit, location, *_ = scene.ray_cast(depsgraph, Vector((0, 0, 0)), target.normalized(), distance=target.length + 0.01)
        visible.append(bool(hit and (location - target).length < 0.002))
    return visible


def blender_projection(scene, points_camera_mm, size):
    """Blender's own projection of camera-space points to facegar pixels (top-left origin)."""
    from bpy_extras.object_utils import world_to_camera_view
    out = []
    for p in points_camera_mm:
        ndc = world_to_camera_view(scene, scene.camera, Vector(p) * MM)
        out.append((ndc.x * size, (1 - ndc.y) * size))
    return np.array(out)


def write_atomic(path, data, mode='w'):
    temporary = path + '.tmp'
    with open(temporary, mode) as f:
        f.write(data)
    os.replace(temporary, path)


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = load_model(args.model)
    regions = region_weights(model)
    size = args.size
    centre_landmarks = model['neutral'][model['landmarks']].mean(axis=0)
    for index in range(args.first, args.first + args.count):
        stem = f'{index:04d}'
        if os.path.exists(os.path.join(args.out, stem + '.json')):
            continue
        started = time.time()
        spec = sample_scene(model, args.seed, index, size, args.photos_per_person)
        vertices = model['neutral'] + np.tensordot(spec['identity'], model['identity'], 1) + np.tensordot(spec['expression'], model['expression'], 1)
        pitch, yaw, roll = (math.radians(a) for a in spec['anglesDeg'])
        rotation = rotation_from_euler(pitch, yaw, roll)
        # The landmark centroid lands at (shift, -distance) in camera space.
        translation = np.array([spec['shiftMm'][0], spec['shiftMm'][1], -spec['distanceMm']]) - rotation @ centre_landmarks
        scene, head, _, _ = build_scene(model, spec, vertices, rotation, translation, size, args.samples, args.threads, regions)
        focal, principal = spec['focalPx'], (size / 2, size / 2)
        landmarks_camera = vertices[model['landmarks']] @ rotation.T + translation
        landmarks_2d = np.stack([principal[0] + focal * landmarks_camera[:, 0] / -landmarks_camera[:, 2],
                                 principal[1] - focal * landmarks_camera[:, 1] / -landmarks_camera[:, 2]], axis=1)
        check = np.abs(blender_projection(scene, landmarks_camera, size) - landmarks_2d).max()
        if check > 0.01:
            raise SystemExit(f'render-cycles-set: Blender and facegar projections differ by {check:.4f} px (face {stem})')
        visible = landmark_visibility(scene, landmarks_camera)
        scene.render.filepath = os.path.join(args.out, stem + '.render.png')
        bpy.ops.render.render(write_still=True)
        os.replace(scene.render.filepath, os.path.join(args.out, stem + '.png'))
        write_atomic(os.path.join(args.out, stem + '.f32'), vertices[:FULL_FACE_VERTICES].astype('<f4').tobytes(), 'wb')
        truth = {
            'format': 'facegar-synthetic-face', 'version': 1,
            'image': stem + '.png', 'width': size, 'height': size,
            'identity': spec['identity'].tolist(),
            'expression': {name: float(w) for name, w in zip(model['expressionNames'], spec['expression'])},
            'rotation': rotation.ravel().tolist(), 'translationMm': translation.tolist(), 'anglesDeg': spec['anglesDeg'],
            'focalPx': focal, 'principalPointPx': list(principal),
            'landmarks2d': landmarks_2d.ravel().tolist(), 'landmarkVisible': visible,
            'vertices': {'file': stem + '.f32', 'space': 'model', 'count': FULL_FACE_VERTICES, 'dtype': 'float32le', 'unit': 'mm'},
            'generator': {'name': 'blender-cycles', 'scriptVersion': SCRIPT_VERSION, 'blender': bpy.app.version_string, 'seed': args.seed, 'index': index,
                          'samples': args.samples, 'scene': {k: v for k, v in spec.items() if k not in ('identity', 'expression')},
                          **({'person': index // args.photos_per_person, 'photosPerPerson': args.photos_per_person} if args.photos_per_person > 1 else {})},
            'renderSeconds': round(time.time() - started, 1),
        }
        write_atomic(os.path.join(args.out, stem + '.json'), json.dumps(truth, indent=1) + '\n')
        print(f'render-cycles-set: {stem} yaw {spec["anglesDeg"][1]:.0f} deg in {time.time() - started:.1f} s', flush=True)
    faces = sorted(name[:-5] for name in os.listdir(args.out) if name.endswith('.json') and name != 'set.json')
    manifest = {'format': 'facegar-synthetic-set', 'version': 1, 'generator': 'blender-cycles', 'scriptVersion': SCRIPT_VERSION, 'seed': args.seed,
                'size': size, 'samples': args.samples, 'faces': faces}
    write_atomic(os.path.join(args.out, 'set.json'), json.dumps(manifest, indent=1) + '\n')


main()
