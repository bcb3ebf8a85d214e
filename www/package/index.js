// pixelprint: perceptual image hashes computed where the image is. The image never leaves
// this module; only the hashes are returned.
//
// createHasher() runs the wasm module in a module Web Worker in browsers (so the page stays
// responsive), inline in Node or with {worker: false}. Results equal the `pixelprint` CLI's
// for the same file and options, with camelCase keys. hashVideo() gives a video's vPDQ (the
// frames decoded by the browser's WebCodecs) and digests, as `pixelprint hash-video` does.
import { hashJob, errorFromData, splitAlgorithms, mergeResults, AbortedError, PixelprintError } from './lib/core.js';

export { PixelprintError };

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
const defaultWasmUrl = () => new URL('./pkg/pixelprint_bg.wasm', import.meta.url);

async function compileWasm(wasmUrl) {
  const url = wasmUrl ?? defaultWasmUrl();
  if (isNode && String(url).startsWith('file:')) {
    const fsName = 'node:fs/promises';
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName);
    return WebAssembly.compile(await readFile(new URL(url)));
  }
  const response = fetch(url);
  if (WebAssembly.compileStreaming) {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch {
      // A server without the application/wasm type: compile the bytes instead.
    }
  }
  const again = await fetch(url);
  if (!again.ok) throw new PixelprintError('wasm_load_failed', `could not load ${url}: HTTP ${again.status}`);
  return WebAssembly.compile(await again.arrayBuffer());
}

function abortReason(signal) {
  return signal.reason instanceof Error || signal.reason instanceof DOMException ? signal.reason : new AbortedError();
}

function splitOptions(options = {}) {
  const { signal, onProgress, ...hashOptions } = options;
  return { signal, onProgress, hashOptions };
}

/** The job function of a kind: images (lib/core.js) or videos (lib/video.js, loaded when first used). */
async function jobOf(kind) {
  if (kind === 'video') return (await import('./lib/video.js')).hashVideoJob;
  return hashJob;
}

/** Inline: the wasm module on this thread. */
async function inlineHasher(module) {
  const bindings = await import('./pkg/pixelprint.js');
  bindings.initSync({ module });
  const wasm = {
    hashBytes: bindings.hashBytes, hashRgba: bindings.hashRgba,
    VpdqHasher: bindings.VpdqHasher, DigestStream: bindings.DigestStream,
  };
  let queue = Promise.resolve();
  return {
    mode: 'inline',
    run(kind, input, options) {
      const { signal, onProgress, hashOptions } = splitOptions(options);
      const run = async () => {
        signal?.throwIfAborted();
        const job = await jobOf(kind);
        return job(wasm, input, hashOptions, {
          onProgress: onProgress ?? (() => {}),
          isCancelled: () => !!signal?.aborted,
        });
      };
      const job = queue.then(run, run);
      queue = job.catch(() => {});
      return job.catch((err) => {
        if (signal?.aborted) throw abortReason(signal);
        throw err;
      });
    },
    terminate() {},
  };
}

/**
 * The hashing worker. Bundlers (Vite, webpack 5, Parcel) bundle a worker and its imports only
 * when they see `new Worker(new URL('literal', import.meta.url), {type: 'module'})` as written
 * here; any other form makes them copy worker.js alone, whose imports then fail to load.
 */
function spawnWorker(workerUrl) {
  if (workerUrl) return new Worker(workerUrl, { type: 'module', name: 'pixelprint' });
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'pixelprint' });
}

/** In a module worker: one job at a time; a job cancelled while hashing ends its worker. */
function workerHasher(module, workerUrl) {
  let worker = null;
  let ready = null;
  let nextId = 1;
  let current = null;
  const queue = [];
  let terminated = false;

  function start() {
    worker = spawnWorker(workerUrl);
    ready = new Promise((resolve, reject) => {
      worker.onerror = (e) => {
        e.preventDefault?.();
        const err = new PixelprintError('worker_failed', `the hashing worker failed: ${e.message ?? 'unknown error'}`);
        reject(err);
        if (current) finish(current, null, err);
      };
      worker.onmessage = ({ data }) => {
        if (data.type === 'ready') return resolve();
        if (data.type === 'init-error') return reject(errorFromData(data.error));
        if (!current || data.id !== current.id) return;
        if (data.type === 'progress') current.onProgress?.(data.progress);
        else if (data.type === 'result') finish(current, data.result, null);
        else if (data.type === 'error') finish(current, null, errorFromData(data.error));
      };
    });
    worker.postMessage({ type: 'init', module });
    return ready;
  }

  function restart() {
    worker?.terminate();
    worker = null;
    ready = null;
  }

  function finish(job, result, error) {
    if (current !== job) return;
    current = null;
    job.signal?.removeEventListener('abort', job.onAbort);
    if (error) job.reject(error);
    else job.resolve(result);
    pump();
  }

  async function pump() {
    if (current || queue.length === 0 || terminated) return;
    const job = queue.shift();
    current = job;
    try {
      if (!worker) start();
      await ready;
    } catch (err) {
      restart();
      finish(job, null, err);
      return;
    }
    if (current !== job) return;
    const input = job.input instanceof ArrayBuffer || ArrayBuffer.isView(job.input) ? copyBytes(job.input) : job.input;
    worker.postMessage({ type: 'hash', kind: job.kind, id: job.id, input, options: job.hashOptions },
      input instanceof Uint8Array ? [input.buffer] : []);
  }

  return {
    mode: 'worker',
    run(kind, input, options) {
      const { signal, onProgress, hashOptions } = splitOptions(options);
      if (terminated) return Promise.reject(new PixelprintError('terminated', 'the hasher was terminated'));
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise((resolve, reject) => {
        const job = { id: nextId++, kind, input, hashOptions, onProgress, signal, resolve, reject };
        job.onAbort = () => {
          const i = queue.indexOf(job);
          if (i >= 0) {
            queue.splice(i, 1);
            reject(abortReason(signal));
          } else if (current === job) {
            // The wasm call cannot be interrupted: end the worker (freeing its buffers) and
            // start a fresh one for the next job.
            restart();
            finish(job, null, abortReason(signal));
          }
        };
        signal?.addEventListener('abort', job.onAbort, { once: true });
        queue.push(job);
        pump();
      });
    },
    terminate() {
      terminated = true;
      const err = new PixelprintError('terminated', 'the hasher was terminated');
      for (const job of queue.splice(0)) job.reject(err);
      if (current) finish(current, null, err);
      restart();
    },
  };
}

/**
 * Two workers: an image request for PDQ and the imagehash family is split between them
 * (splitAlgorithms in lib/core.js: each decodes the file for its half), everything else runs on
 * the first. The second worker starts with the first split request. A failure or cancellation
 * of either half ends the other.
 */
function pairHasher(first, second) {
  return {
    mode: 'worker',
    async run(kind, input, options) {
      const { signal, onProgress, hashOptions } = splitOptions(options);
      const halves = kind === 'image' ? splitAlgorithms(hashOptions.algorithms) : null;
      if (!halves) return first.run(kind, input, options);
      if (signal?.aborted) throw abortReason(signal);
      const both = new AbortController();
      const relay = () => both.abort(abortReason(signal));
      signal?.addEventListener('abort', relay, { once: true });
      try {
        const [a, b] = await Promise.all([
          first.run(kind, input, { ...hashOptions, algorithms: halves[0], signal: both.signal, onProgress }),
          second.run(kind, input, { ...hashOptions, algorithms: halves[1], signal: both.signal }),
        ]);
        return mergeResults(a, b);
      } catch (err) {
        both.abort(err);
        throw signal?.aborted ? abortReason(signal) : err;
      } finally {
        signal?.removeEventListener('abort', relay);
      }
    },
    terminate() {
      first.terminate();
      second.terminate();
    },
  };
}

function copyBytes(input) {
  const view = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return view.slice();
}

/** Two workers where the device has a second core. */
function defaultWorkers() {
  return (globalThis.navigator?.hardwareConcurrency ?? 1) >= 2 ? 2 : 1;
}

/**
 * A hasher. Options: `worker` (default true in browsers; Node always runs inline), `workers`
 * (1 or 2; default 2 where the device has two cores or more), `wasmUrl`, `workerUrl` (for
 * hosting the files elsewhere).
 */
export async function createHasher({ worker = true, workers = defaultWorkers(), wasmUrl, workerUrl } = {}) {
  if (workers !== 1 && workers !== 2) {
    throw new PixelprintError('invalid_option', `workers must be 1 or 2, found ${JSON.stringify(workers)}`);
  }
  const module = await compileWasm(wasmUrl);
  const useWorker = worker && !isNode && typeof Worker === 'function';
  let inner;
  if (!useWorker) inner = await inlineHasher(module);
  else if (workers === 1) inner = workerHasher(module, workerUrl);
  else inner = pairHasher(workerHasher(module, workerUrl), workerHasher(module, workerUrl));
  const timed = (kind) => (input, options) => {
    const started = globalThis.performance?.now() ?? Date.now();
    return inner.run(kind, input, options).then((result) => {
      result.timings.totalMs = (globalThis.performance?.now() ?? Date.now()) - started;
      return result;
    });
  };
  const hash = timed('image');
  return {
    mode: inner.mode,
    hash,
    hashVideo: timed('video'),
    async *hashMany(inputs, options = {}) {
      for await (const file of inputs) {
        options.signal?.throwIfAborted();
        try {
          yield { file, result: await hash(file, options) };
        } catch (error) {
          if (options.signal?.aborted) throw error;
          yield { file, error };
        }
      }
    },
    terminate: () => inner.terminate(),
  };
}

/**
 * The reference vPDQ text format of a hashVideo result (what `vpdq-hash-video` writes and
 * `pixelprint hash-video --format vpdq` prints): `frame,quality,hash,timestamp` lines, the
 * timestamp with 3 decimals.
 */
export function vpdqText(result) {
  // The timestamps are already rounded to milliseconds, as the reference prints them.
  return result.vpdq.map((f) => `${f.frame},${f.quality},${f.hash},${f.timestamp.toFixed(3)}\n`).join('');
}
