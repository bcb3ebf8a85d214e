// Type declarations of the pixelprint npm package (hand-written; index.js is the source).

/** Algorithm names as on the `pixelprint` command line; the camelCase result keys are accepted too. */
export type Algorithm =
  | 'pdq' | 'pdq-dihedral' | 'pdqDihedral' | 'ahash' | 'dhash' | 'dhash-vertical' | 'dhashVertical'
  | 'phash' | 'phash16' | 'whash' | 'md5' | 'sha1' | 'sha256';

export type HashInput = Blob | File | ArrayBuffer | ArrayBufferView;

export interface Progress {
  /** `read`: bytes being read; `hash`: decoding and hashing in wasm; `decode`: the browser's decoder (fallback); `done`. */
  stage: 'read' | 'hash' | 'decode' | 'done';
  bytesRead: number;
  totalBytes: number;
}

export interface HashOptions {
  /** Default `['pdq', 'ahash', 'dhash', 'phash', 'md5', 'sha256']` (the CLI's default). */
  algorithms?: Algorithm[] | string;
  /** `'ignore'` (default: the stored pixels, as the reference ecosystem hashes) or `'apply'` (EXIF rotation first). */
  orientation?: 'ignore' | 'apply';
  /** `'ignore'` (default), `'white'` or `'black'` (composite over that background first). */
  alpha?: 'ignore' | 'white' | 'black';
  /** Refuse images declaring more pixels (default 100 000 000). */
  maxPixels?: number;
  /** Refuse larger inputs before reading them (default 268 435 456). */
  maxInputBytes?: number;
  /** Cancels the job: the promise rejects with an AbortError (or the signal's reason). */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface PdqResult {
  /** 64 lower-case hex digits. */
  hash: string;
  /** 0-100; under 50 the hash is too weak to match on. */
  quality: number;
}

export interface HashResult {
  width?: number;
  height?: number;
  /** `jpeg`, `png`, `gif`, `webp`, `bmp`, `tiff`; for browser-decoded files `avif`, `heic`, `jxl` or the MIME subtype. */
  format?: string;
  /** Who decoded the pixels; absent when only digests were requested. */
  decodedBy?: 'wasm' | 'browser';
  pdq?: PdqResult;
  /** Eight hex hashes: orig, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1. */
  pdqDihedral?: string[];
  ahash?: string;
  dhash?: string;
  dhashVertical?: string;
  phash?: string;
  phash16?: string;
  whash?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  /** The EXIF orientation tag (1-8), when the file has one. */
  orientation?: number;
  /**
   * Milliseconds; `threads`: 2 when the request was split between two workers (PDQ in one,
   * the imagehash family and digests in the other), else 1.
   */
  timings: { readMs: number; hashMs: number; totalMs: number; threads: 1 | 2 };
}

/** Every failure except cancellation. `code` is stable: `unsupported_format`, `truncated_image`,
 * `corrupt_image`, `too_many_pixels`, `input_too_large`, `empty_input`, `invalid_option`,
 * `unknown_algorithm`, `invalid_input`, `terminated`, `worker_failed`, ... */
export class PixelprintError extends Error {
  readonly code: string;
}

export type HashManyItem<T> = { file: T; result: HashResult; error?: undefined } | { file: T; error: Error; result?: undefined };

export interface VideoProgress {
  /** `digest`: the bytes being read for MD5 and SHA-256; `frames`: decoding and hashing; `done`. */
  stage: 'digest' | 'frames' | 'done';
  bytesRead: number;
  totalBytes: number;
  /** Frames decoded so far (every frame counts, hashed or not). */
  framesDone: number;
  /** Frames the file's index lists (inside its edit list's window, as `frames` counts them). */
  framesExpected: number;
}

export interface VideoOptions {
  /** One hashed frame every this many seconds (frame `n` is hashed iff `n % int(secondsPerHash * fps) == 0`);
   * 0 hashes every frame. Default 1, as the reference `vpdq-hash-video` and `pixelprint hash-video`. */
  secondsPerHash?: number;
  /** Refuse frames of more pixels (default 100 000 000), before decoding. */
  maxPixels?: number;
  /** Refuse videos of more frames (default 2 000 000), before decoding. */
  maxFrames?: number;
  /** Compute MD5 and SHA-256 of the file's bytes (default true). */
  digests?: boolean;
  /** `'auto'` (default): 8-bit 4:2:0 and 4:2:2 frames of even size are converted to RGB in wasm exactly as
   * the CLI (libswscale) converts them, other frames by the browser; `'browser'`: every frame by the browser. */
  conversion?: 'auto' | 'browser';
  /** Cancels the job: the promise rejects with an AbortError (or the signal's reason). */
  signal?: AbortSignal;
  onProgress?: (progress: VideoProgress) => void;
}

/** One hashed frame, as `pixelprint hash-video --format jsonl` prints it. */
export interface VpdqFrame {
  /** 0-based number of the frame among all the video's frames (hashed or not). */
  frame: number;
  /** `frame / fps` in seconds (an f32 division, as the reference), rounded to milliseconds. */
  timestamp: number;
  /** PDQ hash, 64 lower-case hex digits. */
  hash: string;
  /** PDQ quality 0-100; the matcher ignores frames under 50. */
  quality: number;
}

export interface VideoResult {
  /** The frames' visible size. */
  width: number;
  height: number;
  /** The WebCodecs codec string, e.g. `avc1.4d401e`. */
  codec: string;
  /** FFmpeg's `avg_frame_rate` of the track: frames over the sum of their durations. */
  frameRate: number;
  /** Every frame, hashed or not, as FFmpeg counts them (decoded frames that a stream-copied cut's edit
   * list hides are not counted). */
  frames: number;
  secondsPerHash: number;
  /** Absent with `digests: false`. */
  md5?: string;
  sha256?: string;
  vpdq: VpdqFrame[];
  decodedBy: 'webcodecs';
  /** How the hashed frames became RGB: `exact` (all as the CLI converts them), `browser` or `mixed`. */
  conversion: 'exact' | 'browser' | 'mixed';
  timings: { indexMs: number; digestMs: number; decodeMs: number; totalMs: number };
}

export interface Hasher {
  /** `'worker'` or `'inline'`. */
  readonly mode: 'worker' | 'inline';
  hash(input: HashInput, options?: HashOptions): Promise<HashResult>;
  /**
   * The vPDQ hash (and MD5, SHA-256) of an MP4 or QuickTime video, decoded by the browser's
   * WebCodecs frame by frame in bounded memory. Error codes: `empty_input`, `unsupported_format`
   * (not MP4/MOV, or fragmented MP4), `truncated_video`, `corrupt_video`, `no_video_stream`,
   * `no_frames`, `unknown_frame_rate`, `unsupported_codec`, `too_many_pixels`, `too_many_frames`,
   * `input_too_large` (an index over 64 MiB), `decode_stalled`, `unsupported_environment` (no
   * WebCodecs, e.g. Node), `invalid_option`.
   */
  hashVideo(input: HashInput, options?: VideoOptions): Promise<VideoResult>;
  /** One after the other; a failure is yielded as `{file, error}`, cancellation throws. */
  hashMany<T extends HashInput>(inputs: Iterable<T> | AsyncIterable<T>, options?: HashOptions): AsyncGenerator<HashManyItem<T>, void, undefined>;
  /** Ends the workers; pending jobs reject with code `terminated`. */
  terminate(): void;
}

export interface CreateHasherOptions {
  /** Run in a module Web Worker (default true; Node always runs inline). */
  worker?: boolean;
  /**
   * Workers, 1 or 2 (default 2 where `navigator.hardwareConcurrency` is 2 or more). With 2, a
   * request for PDQ and any of aHash/dHash/pHash/wHash is split: each worker decodes the file
   * for its half, on its own core. The second worker keeps its own wasm memory (about the size
   * of one grey image of the largest file) until `terminate()`.
   */
  workers?: 1 | 2;
  /** Where `pixelprint_bg.wasm` is served (default: next to this module). */
  wasmUrl?: string | URL;
  /** Where `worker.js` is served (default: next to this module). */
  workerUrl?: string | URL;
}

export function createHasher(options?: CreateHasherOptions): Promise<Hasher>;

/** The reference vPDQ text format of a video result: `frame,quality,hash,timestamp` lines (3-decimal timestamps). */
export function vpdqText(result: Pick<VideoResult, 'vpdq'>): string;
