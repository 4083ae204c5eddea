// Node side of the textured GLB: bake the face texture, encode it as PNG with sharp, write the GLB.
import type { RgbaImage } from '../../common/image.ts';
import type { MorphableModel } from '../../morphable/morphable-model.ts';
import { bakeFaceTexture, type FaceTextureConfig, type TextureFit } from '../../fit/face-texture.ts';
import { computeVertexNormalsArray } from '../../geometry/vertex-normals.ts';
import { meshToGlb } from '../gltf-export.ts';
import { encodePng } from './encode-image.ts';

/**
 * A textured .glb of one fitted face. `photo` must be the image the fit was made on (the decoded,
 * possibly downscaled photo with the fit in its pixels, i.e. before rescaleReconstruction).
 * @returns GLB bytes (positions in metres, normals, UVs, base colour texture) and the texture's PNG bytes.
 */
export async function encodeFaceGlb(
  photo: RgbaImage,
  face: TextureFit,
  model: MorphableModel,
  texture: Partial<FaceTextureConfig> = {},
  mirrorVertices?: Int32Array,
): Promise<{ glb: Uint8Array; texturePng: Uint8Array }> {
  const baked = bakeFaceTexture(photo, face, model, texture, mirrorVertices);
  const texturePng = await encodePng(baked.image);
  const { bytes } = meshToGlb(
    {
      positions: face.vertices,
      triangles: model.triangles,
      normals: computeVertexNormalsArray(face.vertices, model.triangles),
      uvs: model.uvs,
      triangleUvIndices: model.triangleUvIndices,
    },
    { texturePng },
  );
  return { glb: bytes, texturePng };
}
