// Test harness (served with the pages' CSP): exposes the package to the browser tests.
import * as pixelprint from '../package/index.js';

window.pixelprint = pixelprint;
window.bytesOf = (base64) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
document.getElementById('state').textContent = 'ready';
