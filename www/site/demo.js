// The demo page: hash the picked image with the package (decoded and hashed in a worker, on
// this device), show its PDQ hash and quality. Nothing leaves the page.
import { createHasher } from './package/index.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

function show(message, isError = false) {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

let hasher;
// One image at a time: a newer pick waits for the one being hashed.
let busy = Promise.resolve();

async function hashFile(file) {
  $('result').hidden = true;
  show(`Hashing ${file.name}…`);
  try {
    const r = await hasher.hash(file, { algorithms: ['pdq'] });
    $('name').textContent = file.name;
    $('size').textContent = `${r.width} × ${r.height}`;
    $('hash').textContent = r.pdq.hash;
    $('quality').textContent = String(r.pdq.quality);
    $('time').textContent = `${r.timings.totalMs.toFixed(1)} ms`;
    $('result').hidden = false;
    show(`Done: ${file.name}`);
  } catch (err) {
    show(`Could not hash ${file.name}: ${err.message ?? err}`, true);
  }
}

function onFile() {
  const file = $('file').files[0];
  if (file) busy = busy.then(() => hashFile(file));
}

try {
  hasher = await createHasher();
  $('file').addEventListener('change', onFile);
  show('Ready. Pick an image.');
} catch (err) {
  show(`The hasher could not start: ${err.message ?? err}`, true);
}
