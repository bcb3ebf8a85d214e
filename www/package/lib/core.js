// One hashing job, the same in the worker and inline: read the bytes (reporting progress and
// checking for cancellation between chunks), hash them with the wasm module, and, for formats
// only the browser decodes, fall back to the browser's decoder and hash its RGBA pixels.

import { DIGESTS, DEFAULT_ALGORITHMS, CAMEL_NAMES, CAMEL_KEYS, HASH_KEYS, PDQ_FAMILY, GREY_FAMILY } from './algorithms.js';

/** Defaults of the wasm module (src/decode/limits.rs), checked here before reading a whole file. */
export const DEFAULT_MAX_PIXELS = 100_000_000;
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** Digests the platform's Web Crypto computes (off the calling thread, in native code). */
const SUBTLE_DIGESTS = { sha1: 'SHA-1', sha256: 'SHA-256' };

/** An error with a stable `code` (the wasm module's codes, plus the package's own). */
export class PixelprintError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'PixelprintError';
    this.code = code;
  }
}

export class AbortedError extends Error {
  constructor() {
    super('hashing was cancelled');
    this.name = 'AbortError';
  }
}

/**
 * How a request divides between two workers, or null when it does not. PDQ works on its own
 * luminance of the RGB image, the imagehash family on Pillow's grey image: two decodes that
 * share nothing after the entropy decoding, so each worker decodes the file for its half
 * (the grey one without making an RGB image) and the two run on separate cores. The digests
 * go with the grey half, the lighter one. Unknown names leave the request whole, so that the
 * module reports them as it always does.
 */
export function splitAlgorithms(algorithms) {
  const names = algorithmNames(algorithms) ?? DEFAULT_ALGORITHMS;
  const normal = names.map((n) => n.toLowerCase().replaceAll('_', '-'));
  if (!normal.every((n) => PDQ_FAMILY.has(n) || GREY_FAMILY.has(n) || DIGESTS.has(n))) return null;
  const pdq = names.filter((n, i) => PDQ_FAMILY.has(normal[i]));
  const rest = names.filter((n, i) => !PDQ_FAMILY.has(normal[i]));
  if (pdq.length === 0 || !normal.some((n) => GREY_FAMILY.has(n))) return null;
  return [pdq, rest];
}

/**
 * One result from the results of the two halves of a split request (`first`: the PDQ half):
 * the keys in the order one worker gives them, `timings` of the slower half.
 */
export function mergeResults(first, second) {
  const merged = {};
  for (const key of ['width', 'height', 'format', 'decodedBy']) if (key in first) merged[key] = first[key];
  for (const key of HASH_KEYS) {
    if (key in first) merged[key] = first[key];
    else if (key in second) merged[key] = second[key];
  }
  for (const key of Object.keys(first)) if (!(key in merged) && key !== 'timings') merged[key] = first[key];
  const [a, b] = [first.timings ?? {}, second.timings ?? {}];
  merged.timings = {
    readMs: Math.max(a.readMs ?? 0, b.readMs ?? 0),
    hashMs: Math.max(a.hashMs ?? 0, b.hashMs ?? 0),
    totalMs: Math.max(a.totalMs ?? 0, b.totalMs ?? 0),
    threads: 2,
  };
  return merged;
}

/** Algorithm names as the wasm module takes them (CLI names; camelCase keys accepted). */
export function algorithmNames(algorithms) {
  if (algorithms === undefined) return undefined;
  const list = typeof algorithms === 'string' ? algorithms.split(',') : Array.from(algorithms);
  return list.map((n) => CAMEL_NAMES[String(n).trim()] ?? String(n).trim()).filter((n) => n);
}

/** The wasm result (the CLI's snake_case JSON) with camelCase keys; values untouched. */
export function camelCase(raw) {
  const out = {};
  for (const [key, value] of Object.entries(raw)) out[CAMEL_KEYS[key] ?? key] = value;
  return out;
}

function now() {
  return globalThis.performance?.now() ?? Date.now();
}

/** The bytes of a Blob/File, ArrayBuffer or typed array, read in chunks. */
async function readBytes(input, { maxInputBytes, onProgress, isCancelled }) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (typeof Blob === 'undefined' || !(input instanceof Blob)) {
    throw new PixelprintError('invalid_input', 'expected a File, Blob, ArrayBuffer or Uint8Array');
  }
  const total = input.size;
  if (total > maxInputBytes) {
    throw new PixelprintError('input_too_large', `input of ${total} bytes exceeds the limit of ${maxInputBytes} bytes`);
  }
  const bytes = new Uint8Array(total);
  let read = 0;
  onProgress({ stage: 'read', bytesRead: 0, totalBytes: total });
  const reader = input.stream().getReader();
  try {
    for (;;) {
      if (isCancelled()) throw new AbortedError();
      const { done, value } = await reader.read();
      if (done) break;
      if (read + value.length > total) throw new PixelprintError('corrupt_image', 'the file grew while it was read');
      bytes.set(value, read);
      read += value.length;
      onProgress({ stage: 'read', bytesRead: read, totalBytes: total });
    }
  } finally {
    reader.releaseLock();
  }
  return read === total ? bytes : bytes.subarray(0, read);
}

/**
 * Starts the SHA-1/SHA-256 digests of `bytes` among `requested` on Web Crypto, where there is
 * one (secure contexts, Node), so that they run while the wasm module decodes. Returns the
 * names left for the wasm module and a promise of the digests' hex strings (keyed as the
 * module keys them); without Web Crypto every name stays with the module.
 */
function digestsAside(bytes, requested) {
  const subtle = globalThis.crypto?.subtle;
  const normal = (n) => n.trim().toLowerCase().replaceAll('_', '-');
  const aside = subtle ? [...new Set(requested.map(normal).filter((n) => n in SUBTLE_DIGESTS))] : [];
  const rest = requested.filter((n) => !aside.includes(normal(n)));
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  // In the module's order (sha1 before sha256), after its own keys, as it would place them.
  const ordered = ['sha1', 'sha256'].filter((n) => aside.includes(n));
  // Null when Web Crypto refuses (it rejects views of a SharedArrayBuffer, for one): the caller
  // then has the module compute them.
  const promise = Promise.all(ordered.map((n) => subtle.digest(SUBTLE_DIGESTS[n], bytes)))
    .then((buffers) => Object.fromEntries(ordered.map((n, i) => [n, hex(buffers[i])])), () => null);
  return { rest, aside: ordered, promise };
}

/** ISO-BMFF brands and signatures of formats a browser may decode and the wasm module does not. */
function sniffFormat(bytes, mime) {
  const ascii = (from, to) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand)) return 'heic';
  }
  if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && bytes[3] === 0) return 'ico';
  if (bytes[0] === 0xff && bytes[1] === 0x0a) return 'jxl';
  if (bytes.length >= 12 && ascii(4, 8) === 'JXL ') return 'jxl';
  if (/^image\/[a-z0-9.+-]+$/.test(mime ?? '')) return mime.slice(6);
  return 'unknown';
}

function canDecodeInBrowser() {
  return typeof createImageBitmap === 'function' && typeof OffscreenCanvas === 'function';
}

/**
 * RGBA pixels as the browser decodes them: stored colours, no premultiplication. Null when the
 * browser cannot decode the bytes. Exported for bench/browser, which times it.
 */
export async function browserPixels(bytes, mime, orientation, maxPixels) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: mime || '' }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
      imageOrientation: orientation === 'apply' ? 'from-image' : 'none',
    });
  } catch {
    return null;
  }
  try {
    const { width, height } = bitmap;
    if (width * height > maxPixels) {
      throw new PixelprintError('too_many_pixels', `image of ${width}x${height} pixels exceeds the limit of ${maxPixels} pixels`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, width, height);
  } finally {
    bitmap.close();
  }
}

/**
 * Hashes one input with the initialised wasm module `wasm` ({hashBytes, hashRgba}).
 * `options`: the public hash options without signal/onProgress. Returns the camelCase result.
 */
export async function hashJob(wasm, input, options, { onProgress = () => {}, isCancelled = () => false } = {}) {
  const start = now();
  const { algorithms, orientation, alpha, maxPixels, maxInputBytes, ...unknown } = options ?? {};
  const unknownKeys = Object.keys(unknown);
  if (unknownKeys.length) {
    throw new PixelprintError('invalid_option', `unknown option ${JSON.stringify(unknownKeys[0])}: expected algorithms, orientation, alpha, maxPixels, maxInputBytes, signal or onProgress`);
  }
  const names = algorithmNames(algorithms);
  const wasmOptions = { algorithms: names, orientation, alpha, maxPixels, maxInputBytes };
  for (const key of Object.keys(wasmOptions)) if (wasmOptions[key] === undefined) delete wasmOptions[key];

  const bytes = await readBytes(input, {
    maxInputBytes: maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES, onProgress, isCancelled,
  });
  const readMs = now() - start;
  if (isCancelled()) throw new AbortedError();
  onProgress({ stage: 'hash', bytesRead: bytes.length, totalBytes: bytes.length });
  const hashStart = now();
  const requested = names ?? DEFAULT_ALGORITHMS;
  const digests = digestsAside(bytes, requested);
  const onlyAside = digests.rest.length === 0 && digests.aside.length > 0;
  let raw;
  let decodedBy = 'wasm';
  try {
    raw = onlyAside ? {} : wasm.hashBytes(bytes, { ...wasmOptions, algorithms: digests.rest });
  } catch (err) {
    // Formats the module leaves out, and JPEG features its decoder leaves out (arithmetic
    // coding, 12-bit samples, YCCK: the browser's libjpeg-turbo decodes them as Pillow does).
    const fallback = err?.code === 'unsupported_format' || err?.code === 'unsupported_feature';
    if (!fallback || !canDecodeInBrowser()) throw coded(err);
    const mime = typeof Blob !== 'undefined' && input instanceof Blob ? input.type : '';
    if ((alpha ?? 'ignore') !== 'ignore') {
      throw new PixelprintError(err.code, `${err.message}; the browser's decoder is used only with alpha "ignore"`);
    }
    onProgress({ stage: 'decode', bytesRead: bytes.length, totalBytes: bytes.length });
    const image = await browserPixels(bytes, mime, orientation, maxPixels ?? DEFAULT_MAX_PIXELS);
    if (!image) throw new PixelprintError(err.code, `${err.message}, and this browser cannot decode it either`);
    if (isCancelled()) throw new AbortedError();
    const pixelNames = digests.rest.filter((n) => !DIGESTS.has(n));
    const digestNames = digests.rest.filter((n) => DIGESTS.has(n));
    raw = pixelNames.length ? wasm.hashRgba(image.data, image.width, image.height, pixelNames) : {};
    raw = { ...raw, format: sniffFormat(bytes, mime) };
    if (digestNames.length) Object.assign(raw, wasm.hashBytes(bytes, { algorithms: digestNames }));
    decodedBy = 'browser';
  }
  if (digests.aside.length) {
    Object.assign(raw, (await digests.promise) ?? wasm.hashBytes(bytes, { algorithms: digests.aside }));
  }
  const hashMs = now() - hashStart;
  const result = camelCase(raw);
  const ordered = { width: result.width, height: result.height, format: result.format, decodedBy, ...result };
  for (const key of ['width', 'height', 'format']) if (ordered[key] === undefined) delete ordered[key];
  if (!('width' in result)) delete ordered.decodedBy;
  // The EXIF tag after the hashes (the SHA digests from Web Crypto come after the module's keys).
  if ('orientation' in ordered) {
    const { orientation: tag } = ordered;
    delete ordered.orientation;
    ordered.orientation = tag;
  }
  ordered.timings = { readMs, hashMs, totalMs: now() - start, threads: 1 };
  onProgress({ stage: 'done', bytesRead: bytes.length, totalBytes: bytes.length });
  return ordered;
}

function coded(err) {
  if (err instanceof PixelprintError || err instanceof AbortedError) return err;
  return new PixelprintError(err?.code ?? 'internal_error', err?.message ?? String(err));
}

/** An error as plain data (postMessage drops custom properties of Error objects). */
export function errorToData(err) {
  if (err instanceof AbortedError) return { name: 'AbortError', message: err.message };
  const c = coded(err);
  return { name: c.name, code: c.code, message: c.message };
}

export function errorFromData(data) {
  if (data.name === 'AbortError') return new AbortedError();
  return new PixelprintError(data.code, data.message);
}
