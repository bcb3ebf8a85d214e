// Both decode paths of the package on the same bytes, in a worker as the package runs them:
// the wasm module's own decoder (hashBytes) and the browser's (createImageBitmap +
// OffscreenCanvas getImageData, the package's fallback, then hashRgba). PDQ only, so that the
// decoders dominate; `pdqMs` is PDQ alone on the browser's RGBA pixels.
import init, { hashBytes, hashRgba } from '/package/pkg/pixelprint.js';
import { browserPixels, DEFAULT_MAX_PIXELS } from '/package/lib/core.js';

const ready = init({ module_or_path: '/package/pkg/pixelprint_bg.wasm' });

/** SHA-256 (hex) of the RGB samples of RGBA pixels, to compare them with Pillow's RGB. */
async function rgbSha256(rgba) {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    rgb[o] = rgba[i];
    rgb[o + 1] = rgba[i + 1];
    rgb[o + 2] = rgba[i + 2];
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', rgb));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

self.onmessage = async ({ data: { id, bytes, mime, pixelsSha256 } }) => {
  try {
    await ready;
    let start = performance.now();
    const wasm = hashBytes(bytes, { algorithms: ['pdq'] });
    const wasmMs = performance.now() - start;

    start = performance.now();
    const image = await browserPixels(bytes, mime, 'ignore', DEFAULT_MAX_PIXELS);
    const decodeMs = performance.now() - start;
    if (!image) throw new Error('the browser could not decode the file');
    start = performance.now();
    const browser = hashRgba(image.data, image.width, image.height, ['pdq']);
    const pdqMs = performance.now() - start;
    self.postMessage({
      id,
      wasm: { ms: wasmMs, width: wasm.width, height: wasm.height, pdq: wasm.pdq },
      browser: {
        ms: decodeMs + pdqMs, decodeMs, pdqMs, width: image.width, height: image.height, pdq: browser.pdq,
        pixelsSha256: pixelsSha256 ? await rgbSha256(image.data) : undefined,
      },
    });
  } catch (err) {
    self.postMessage({ id, error: String(err?.stack ?? err) });
  }
};
