// The orbitable 3D view: loads the GLB the worker wrote (so what you see is what you download);
// in live mode, the webcam's tracked mesh seen through the webcam's own camera.
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

export class MeshViewer {
  private readonly renderer: THREE.WebGLRenderer | undefined;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(30, 1, 0.01, 10);
  private controls: OrbitControls | undefined;
  private current: THREE.Object3D | undefined;
  private live: THREE.Mesh | undefined;
  /** Why there is no 3D view (no WebGL), or undefined. */
  readonly unavailable: string | undefined;

  constructor(private readonly container: HTMLElement) {
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    } catch (error) {
      this.unavailable = `3D view unavailable: ${(error as Error).message}`;
      container.textContent = this.unavailable;
      return;
    }
    this.renderer.setPixelRatio(Math.min(2, globalThis.devicePixelRatio ?? 1));
    container.appendChild(this.renderer.domElement);
    this.scene.background = new THREE.Color(0x20242c);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x404040, 2.2));
    const key = new THREE.DirectionalLight(0xffffff, 1.2);
    key.position.set(-0.3, 0.4, 1);
    this.scene.add(key);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.addEventListener('change', () => this.draw());
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  /** Show the mesh of a GLB (replaces the previous one). Resolves with the vertex count three.js loaded. */
  async show(glb: Uint8Array): Promise<number> {
    if (!this.renderer || !this.controls) return 0;
    this.endLive();
    const buffer = glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer;
    const gltf = await new GLTFLoader().parseAsync(buffer, '');
    if (this.current) this.scene.remove(this.current);
    this.current = gltf.scene;
    this.scene.add(gltf.scene);
    const box = new THREE.Box3().setFromObject(gltf.scene);
    const centre = box.getCenter(new THREE.Vector3());
    const radius = box.getSize(new THREE.Vector3()).length() / 2;
    this.controls.target.copy(centre);
    this.camera.position.set(centre.x, centre.y, centre.z + radius * 3.2);
    this.camera.near = radius / 20;
    this.camera.far = radius * 20;
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this.draw();
    let vertices = 0;
    gltf.scene.traverse((node) => {
      if ((node as THREE.Mesh).isMesh) vertices += (node as THREE.Mesh).geometry.attributes.position.count;
    });
    return vertices;
  }

  /**
   * Live mode: the mesh (`vertices` [V*3] mm, model space) placed by its pose p_cam = R p + t and
   * seen through a camera like the webcam's (vertical field of view from the focal length), so it
   * turns and moves as the face in the video does. The orbit control rests meanwhile.
   */
  showLive(
    vertices: Float32Array,
    triangles: Uint32Array,
    pose: { rotation: ArrayLike<number>; translationMm: ArrayLike<number>; focalPx: number; frameHeightPx: number },
  ): void {
    if (!this.renderer || !this.controls) return;
    if (!this.live || this.live.geometry.attributes.position.count * 3 !== vertices.length) {
      this.clear();
      this.endLive();
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(vertices.length), 3));
      geometry.setIndex(new THREE.BufferAttribute(triangles, 1));
      this.live = new THREE.Mesh(geometry, new THREE.MeshStandardMaterial({ color: 0xc9d6e8, roughness: 0.75 }));
      this.live.matrixAutoUpdate = false;
      this.scene.add(this.live);
      this.controls.enabled = false;
    }
    const geometry = this.live.geometry;
    (geometry.attributes.position.array as Float32Array).set(vertices);
    geometry.attributes.position.needsUpdate = true;
    geometry.computeVertexNormals();
    geometry.computeBoundingSphere();
    const r = pose.rotation,
      t = pose.translationMm;
    this.live.matrix.set(r[0], r[1], r[2], t[0], r[3], r[4], r[5], t[1], r[6], r[7], r[8], t[2], 0, 0, 0, 1);
    this.live.matrixWorldNeedsUpdate = true;
    this.camera.position.set(0, 0, 0);
    this.camera.up.set(0, 1, 0);
    this.camera.lookAt(0, 0, -1);
    this.camera.fov = (2 * Math.atan(pose.frameHeightPx / 2 / pose.focalPx) * 180) / Math.PI;
    this.camera.near = 10;
    this.camera.far = 10_000;
    this.camera.updateProjectionMatrix();
    this.draw();
  }

  /** Leave live mode: the tracked mesh goes, the orbit control returns. */
  endLive(): void {
    if (!this.live) return;
    this.scene.remove(this.live);
    this.live.geometry.dispose();
    (this.live.material as THREE.Material).dispose();
    this.live = undefined;
    if (this.controls) this.controls.enabled = true;
    this.draw();
  }

  /** Remove the mesh shown (a new photo is on its way, or it failed). */
  clear(): void {
    if (this.current) this.scene.remove(this.current);
    this.current = undefined;
    this.draw();
  }

  private resize(): void {
    if (!this.renderer) return;
    const width = this.container.clientWidth || 400,
      height = this.container.clientHeight || 400;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.draw();
  }

  private draw(): void {
    this.renderer?.render(this.scene, this.camera);
  }
}
