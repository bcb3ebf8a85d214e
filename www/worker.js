// The hashing worker (a module worker): receives the compiled wasm module once, then one job
// at a time. Cancellation between read chunks is cooperative; the page terminates the worker
// when a job is cancelled during hashing, which frees all of its memory.
import { initSync, hashBytes, hashRgba } from './pkg/pixelprint.js';
import { hashJob, errorToData } from './lib/core.js';

const wasm = { hashBytes, hashRgba };
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
    const { id, input, options } = data;
    try {
      const result = await hashJob(wasm, input, options, {
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
