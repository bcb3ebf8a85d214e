// From a hash result to the API's hash item (docs: shared api-v1 contract): only the
// documented keys, values exactly as the wasm module gives them. The algorithms are the
// server's (its bank algorithms, server/src/model.rs, and the PDQ queries searched against its
// PDQ entries: the dihedral variants, the picture inside uniform borders, the largest picture
// embedded in a screenshot, the picture without caption bands and the picture turned back
// upright; and the mirrored pHash searched against its pHash entries), not all the package
// computes (package/lib/algorithms.js).
export const IMAGE_ALGORITHMS = ['pdq', 'pdq-dihedral', 'pdq-trimmed', 'pdq-embedded', 'pdq-captioned', 'pdq-straightened', 'ahash', 'dhash', 'phash', 'phash-mirrored', 'md5', 'sha256'];
export const DIGEST_ALGORITHMS = ['md5', 'sha256'];

export function hashItem(result) {
  const item = {};
  if (result.pdq) {
    item.pdq = result.pdq.hash;
    item.pdq_quality = result.pdq.quality;
  }
  if (result.pdqDihedral) item.pdq_dihedral = result.pdqDihedral;
  if (result.pdqTrimmed) item.pdq_trimmed = result.pdqTrimmed;
  // Absent when the image shows no embedded picture.
  if (result.pdqEmbedded) item.pdq_embedded = result.pdqEmbedded;
  // Absent when the image shows no caption band.
  if (result.pdqCaptioned) item.pdq_captioned = result.pdqCaptioned;
  // Absent when the picture is not turned on a canvas of one colour.
  if (result.pdqStraightened) item.pdq_straightened = result.pdqStraightened;
  if (result.phashMirrored) item.phash_mirrored = result.phashMirrored;
  for (const key of ['phash', 'dhash', 'ahash', 'md5', 'sha256']) {
    if (result[key] !== undefined) item[key] = result[key];
  }
  return item;
}

/**
 * A video's item: its digests and, from a hashVideo result, its vPDQ frames, which the API's
 * `vpdq` field takes as they are (`{frame, timestamp, hash, quality}`, hash-video's JSON).
 */
export function videoItem(result) {
  const item = { md5: result.md5, sha256: result.sha256 };
  if (result.vpdq) item.vpdq = result.vpdq;
  return item;
}

/** Whether the server's hash item takes `vpdq` (its OpenAPI schema says so); false when unsure. */
export async function serverTakesVpdq() {
  try {
    const response = await fetch('/v1/openapi.json');
    if (!response.ok) return false;
    const schema = await response.json();
    return !!schema?.components?.schemas?.HashItem?.properties?.vpdq;
  } catch {
    return false;
  }
}

/** A human-readable error from an API error body `{error: {code, message}}` or a status. */
export async function apiError(response) {
  try {
    const body = await response.json();
    if (body?.error?.message) return `${body.error.message} (${body.error.code}, HTTP ${response.status})`;
  } catch {
    // Not JSON: fall through to the status.
  }
  return `the server answered HTTP ${response.status}`;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A list entry for a chosen file, not yet attached: its name and size, a progress bar and a
 * state line (with `stateText`), read by screen readers through the list's live region.
 */
export function fileRow(file, stateText) {
  const li = document.createElement('li');
  const name = document.createElement('div');
  name.className = 'name';
  name.textContent = `${file.name} (${formatBytes(file.size)})`;
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute('aria-label', `Hashing ${file.name}`);
  const state = document.createElement('div');
  state.textContent = stateText;
  li.append(name, bar, state);
  return { li, bar, state };
}

/** The progress bar's value for an image's hashing progress: reading is the first half. */
export function imageProgress(p) {
  if (p.stage === 'read') return 0.5 * (p.bytesRead / (p.totalBytes || 1));
  return p.stage === 'done' ? 1 : 0.75;
}
