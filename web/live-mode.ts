// Live mode: webcam frames go to the worker one at a time (frames that arrive while one is being
// tracked are skipped), the next sent as soon as the last is answered; each tracked frame moves
// the mesh in the 3D view and the landmarks over the video. Frames per second count tracked
// frames over the last two seconds.
import type { MeshViewer } from './viewer.ts';
import type { TrackedFrame, WorkerResponse } from './messages.ts';

/** Longer frames are scaled down to this width before tracking: detection and the encoder's crop need no more. */
const MAX_FRAME_WIDTH_PX = 640;
const FPS_WINDOW_MS = 2000;

export interface LiveStats {
  running: boolean;
  /** Frames tracked since start, and those with a face. */
  frames: number;
  framesWithFace: number;
  fps: number;
  /** The encoder's time on the last frame it ran on (it runs on every few frames only). */
  lastEncodeMs?: number;
  last?: Omit<TrackedFrame, 'vertices' | 'landmarks2d' | 'detectedLandmarks2d' | 'identity'> & { identityFirst: number[] };
  /** The last RECENT_FRAMES frames with a face: when (ms since start), where, how well fitted, and the identity's first coefficients. */
  recent: {
    atMs: number;
    translationMm: [number, number, number];
    yawDeg: number;
    landmarkErrorPercent: number;
    identityFrames: number;
    encoded: boolean;
    identityFirst: number[];
  }[];
}

const RECENT_FRAMES = 300;

export interface LiveModeParts {
  video: HTMLVideoElement;
  canvas: HTMLCanvasElement;
  viewer: MeshViewer;
  /** Send a frame to the worker, resolve with its answer. */
  track: (frame: ImageBitmap) => Promise<WorkerResponse>;
  reset: () => Promise<WorkerResponse>;
  triangles: () => Uint32Array | undefined;
  /** Called after every frame with the stats, and with an error message when tracking fails. */
  onFrame: (stats: LiveStats) => void;
  onError: (message: string) => void;
}

export class LiveMode {
  readonly stats: LiveStats = { running: false, frames: 0, framesWithFace: 0, fps: 0, recent: [] };
  private readonly doneAt: number[] = [];
  private startedMs = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private lastGrab: Promise<unknown> = Promise.resolve();

  constructor(private readonly parts: LiveModeParts) {}

  get running(): boolean {
    return this.stats.running;
  }

  /** Track the stream's frames until stop(); a new start resets the accumulated identity. */
  async start(stream: MediaStream): Promise<void> {
    if (this.stats.running) return;
    const { video } = this.parts;
    video.srcObject = stream;
    await video.play().catch(() => undefined);
    Object.assign(this.stats, { running: true, frames: 0, framesWithFace: 0, fps: 0, lastEncodeMs: undefined, last: undefined, recent: [] });
    this.doneAt.length = 0;
    this.startedMs = performance.now();
    const answer = await this.parts.reset();
    if (answer.type === 'error') {
      this.stats.running = false;
      this.parts.onError(`Live mode did not start: ${answer.message}`);
      return;
    }
    this.loopDone = this.loop();
  }

  /** Stop after the frame in flight; resolves once the worker is free. */
  stop(): Promise<void> {
    this.stats.running = false;
    this.parts.viewer.endLive();
    return this.loopDone;
  }

  /**
   * Frames in a pipeline of two: while the page draws one answer and grabs the next frame, the
   * worker already tracks the frame queued behind it, so it never waits for the page (on the
   * 2-core machine it waited about 19 ms a frame with one in flight, `bench/web.ts`).
   */
  private async loop(): Promise<void> {
    const { viewer } = this.parts;
    const inFlight = [this.trackNextFrame(), this.trackNextFrame()];
    while (this.stats.running) {
      let response: WorkerResponse | undefined;
      try {
        response = await inFlight.shift();
      } catch (error) {
        if (this.stats.running) this.parts.onError(`Live mode stopped: ${(error as Error).message}`);
        this.stats.running = false;
        await Promise.allSettled(inFlight);
        return;
      }
      inFlight.push(this.stats.running ? this.trackNextFrame() : Promise.resolve(undefined));
      if (!response || !this.stats.running) continue;
      if (response.type === 'error') {
        this.stats.running = false;
        this.parts.onError(`Live mode stopped: ${response.message}`);
        break;
      }
      if (response.type !== 'tracked') continue;
      const now = performance.now();
      this.doneAt.push(now);
      while (this.doneAt.length > 0 && this.doneAt[0] < now - FPS_WINDOW_MS) this.doneAt.shift();
      this.stats.frames++;
      this.stats.fps = this.doneAt.length > 1 ? (1000 * (this.doneAt.length - 1)) / (now - this.doneAt[0]) : 0;
      const frame = response.frame;
      const triangles = this.parts.triangles();
      if (frame && triangles) {
        this.stats.framesWithFace++;
        viewer.showLive(frame.vertices, triangles, {
          rotation: frame.rotation,
          translationMm: frame.translationMm,
          focalPx: frame.focalPx,
          frameHeightPx: frame.frameSize.height,
        });
        const { vertices, landmarks2d, detectedLandmarks2d, identity, ...rest } = frame;
        const identityFirst = Array.from(identity.subarray(0, 8));
        this.stats.last = { ...rest, identityFirst };
        if (frame.encoded) this.stats.lastEncodeMs = frame.timingsMs.encode;
        this.stats.recent.push({
          atMs: Math.round(now - this.startedMs),
          translationMm: frame.translationMm,
          yawDeg: frame.anglesDeg[1],
          landmarkErrorPercent: frame.landmarkErrorPercent,
          identityFrames: frame.identityFrames,
          encoded: frame.encoded,
          identityFirst,
        });
        if (this.stats.recent.length > RECENT_FRAMES) this.stats.recent.shift();
      }
      this.drawLandmarks(frame);
      this.parts.onFrame(this.stats);
    }
    // stop() resolves once the worker has answered the frames in flight.
    await Promise.allSettled(inFlight);
  }

  /**
   * The video's current frame, scaled down, sent to the worker; undefined after a short wait while
   * the video has none yet. Frames are grabbed one after another, so they reach the worker in the
   * order of the calls.
   */
  private trackNextFrame(): Promise<WorkerResponse | undefined> {
    const bitmap = this.lastGrab.then(() => this.grabFrame());
    this.lastGrab = bitmap.catch(() => undefined);
    return bitmap.then((frame) => (frame ? this.parts.track(frame) : undefined));
  }

  private async grabFrame(): Promise<ImageBitmap | undefined> {
    const { video } = this.parts;
    if (video.readyState < 2 || video.videoWidth === 0) {
      await sleep(30);
      return undefined;
    }
    const scale = Math.min(1, MAX_FRAME_WIDTH_PX / video.videoWidth);
    return createImageBitmap(video, {
      resizeWidth: Math.round(video.videoWidth * scale),
      resizeHeight: Math.round(video.videoHeight * scale),
      resizeQuality: 'medium',
    });
  }

  /** The detector's landmarks (green) and the mesh's (red) over the video, in the frame's pixels. */
  private drawLandmarks(frame: TrackedFrame | undefined): void {
    const { canvas } = this.parts;
    const context = canvas.getContext('2d');
    if (!context) return;
    if (!frame) {
      context.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    canvas.width = frame.frameSize.width;
    canvas.height = frame.frameSize.height;
    const dots = (points: Float32Array, colour: string) => {
      context.fillStyle = colour;
      for (let k = 0; k < points.length / 2; k++) context.fillRect(points[2 * k] - 1.5, points[2 * k + 1] - 1.5, 3, 3);
    };
    dots(frame.detectedLandmarks2d, '#3ddc84');
    dots(frame.landmarks2d, '#ff5a5a');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
