// The demo page: decode the picked image with the browser, hash its RGBA pixels with the
// wasm module, show hash and quality. Nothing leaves the page.
import init, { pdqFromRgba } from './pkg/pixelprint.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

function show(message, isError = false) {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

async function pixelsOf(file) {
  // Ask for the stored pixels: no colour conversion, no premultiplication, no EXIF rotation.
  const bitmap = await createImageBitmap(file, {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
    imageOrientation: 'none',
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

async function onFile() {
  const file = $('file').files[0];
  if (!file) return;
  $('result').hidden = true;
  show(`Hashing ${file.name}…`);
  try {
    const image = await pixelsOf(file);
    const start = performance.now();
    const { hash, quality } = pdqFromRgba(image.data, image.width, image.height);
    const ms = performance.now() - start;
    $('name').textContent = file.name;
    $('size').textContent = `${image.width} × ${image.height}`;
    $('hash').textContent = hash;
    $('quality').textContent = String(quality);
    $('time').textContent = `${ms.toFixed(1)} ms`;
    $('result').hidden = false;
    show(`Done: ${file.name}`);
  } catch (err) {
    show(`Could not hash ${file.name}: ${err.message ?? err}`, true);
  }
}

await init();
$('file').addEventListener('change', onFile);
show('Ready. Pick an image.');
