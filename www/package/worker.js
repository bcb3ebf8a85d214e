// The hashing worker (a module worker): receives the compiled wasm module once, then one job
// at a time (an image, or a video: lib/video.js, loaded when the first video comes). Cancellation
// between read chunks is cooperative; the page terminates the worker when a job is cancelled
// during hashing, which frees all of its memory (a video decoder's too).
import { initSync, hashBytes, hashRgba, VpdqHasher, DigestStream } from './pkg/pixelprint.js';
import { hashJob, errorToData } from './lib/core.js';

const wasm = { hashBytes, hashRgba, VpdqHasher, DigestStream };
const cancelled = new Set();

self.onmessage = async ({ data }) => {
  if (data.type === 'init') {
    try {
      initSync({ module: data.module });
      self.postMessage({ type: 'ready' });
    } catch (err) {
      self.postMessage({ type: 'init-error', error: errorToData(err) });
    }
    return;
  }
  if (data.type === 'cancel') {
    cancelled.add(data.id);
    return;
  }
  if (data.type === 'hash') {
    const { id, kind, input, options } = data;
    try {
      const job = kind === 'video' ? (await import('./lib/video.js')).hashVideoJob : hashJob;
      const result = await job(wasm, input, options, {
        onProgress: (p) => self.postMessage({ type: 'progress', id, progress: p }),
        isCancelled: () => cancelled.has(id),
      });
      self.postMessage({ type: 'result', id, result });
    } catch (err) {
      self.postMessage({ type: 'error', id, error: errorToData(err) });
    } finally {
      cancelled.delete(id);
    }
  }
};
