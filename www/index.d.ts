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
  timings: { readMs: number; hashMs: number; totalMs: number };
}

/** Every failure except cancellation. `code` is stable: `unsupported_format`, `truncated_image`,
 * `corrupt_image`, `too_many_pixels`, `input_too_large`, `empty_input`, `invalid_option`,
 * `unknown_algorithm`, `invalid_input`, `terminated`, `worker_failed`, ... */
export class PixelprintError extends Error {
  readonly code: string;
}

export type HashManyItem<T> = { file: T; result: HashResult; error?: undefined } | { file: T; error: Error; result?: undefined };

export interface Hasher {
  /** `'worker'` or `'inline'`. */
  readonly mode: 'worker' | 'inline';
  hash(input: HashInput, options?: HashOptions): Promise<HashResult>;
  /** One after the other; a failure is yielded as `{file, error}`, cancellation throws. */
  hashMany<T extends HashInput>(inputs: Iterable<T> | AsyncIterable<T>, options?: HashOptions): AsyncGenerator<HashManyItem<T>, void, undefined>;
  /** Ends the worker; pending jobs reject with code `terminated`. */
  terminate(): void;
}

export interface CreateHasherOptions {
  /** Run in a module Web Worker (default true; Node always runs inline). */
  worker?: boolean;
  /** Where `pixelprint_bg.wasm` is served (default: next to this module). */
  wasmUrl?: string | URL;
  /** Where `worker.js` is served (default: next to this module). */
  workerUrl?: string | URL;
}

export function createHasher(options?: CreateHasherOptions): Promise<Hasher>;
