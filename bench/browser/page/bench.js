// The benchmark page: one timed run per call, driven by bench/browser/bench.mjs, which
// interleaves our runs with the anchor's. Times are wall-clock milliseconds on this page,
// from a File in memory to the hashes in hand.
import { createHasher } from '/package/index.js';
import { DifferenceHashBuilder } from '/bih/index.js';

const files = new Map();
// The package's default (two workers on a device with two cores or more), and one worker.
const hasher = await createHasher();
const single = await createHasher({ workers: 1 });
const decoder = new Worker(new URL('decode-worker.js', import.meta.url), { type: 'module' });
let decoderJobs = 0;

/** The image at `url` as a File, fetched once and kept (fetching is not timed). */
async function file(url) {
  if (!files.has(url)) {
    const blob = await (await fetch(url)).blob();
    files.set(url, new File([blob], url.split('/').pop(), { type: blob.type }));
  }
  return files.get(url);
}

/**
 * The npm package in its workers: file bytes to `algorithms` (undefined: the CLI's defaults);
 * `workers` 1 uses the one-worker hasher.
 */
async function pixelprint(url, algorithms, workers) {
  const input = await file(url);
  const h = workers === 1 ? single : hasher;
  const start = performance.now();
  const result = await h.hash(input, algorithms ? { algorithms } : {});
  return { ms: performance.now() - start, mode: h.mode, result };
}

/** browser-image-hash's dHash of the same File (it loads images from a URL). */
async function browserImageHash(url) {
  const input = await file(url);
  const start = performance.now();
  const objectUrl = URL.createObjectURL(input);
  try {
    const hash = await new DifferenceHashBuilder().build(new URL(objectUrl));
    return { ms: performance.now() - start, bits: hash.rawHash, hex: hash.toString() };
  } finally {
    URL.revokeObjectURL(objectUrl);
  }
}

/**
 * One round of the decoder comparison, in decode-worker.js (as the package's fallback runs);
 * `pixelsSha256` also answers the SHA-256 of the browser's RGB pixels (not timed).
 */
async function decoders(url, pixelsSha256 = false) {
  const bytes = new Uint8Array(await (await file(url)).arrayBuffer());
  const id = ++decoderJobs;
  return new Promise((resolve, reject) => {
    decoder.onmessage = ({ data }) => (data.id !== id ? null : data.error ? reject(new Error(data.error)) : resolve(data));
    decoder.postMessage({ id, bytes, mime: files.get(url).type, pixelsSha256 }, [bytes.buffer]);
  });
}

window.bench = { pixelprint, browserImageHash, decoders, userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency };
document.getElementById('state').textContent = 'ready';
