// The upload check page: hash each picked image in a worker, send only the hash items to
// POST /v1/match, show per file whether it can be uploaded. The files are never sent. The page
// asks without a key, so the server answers a verdict per item (docs/api.md): whether it
// matched and, only where the operator made them public, the categories of the lists; never
// which list or entry, so the page cannot name one either.
import { createHasher } from './package/index.js';
import { IMAGE_ALGORITHMS, hashItem, apiError, fileRow, imageProgress } from './items.js';

const $ = (id) => document.getElementById(id);
const status = $('status');
let hasher;
let busy;

function row(file) {
  const r = fileRow(file, 'Waiting…');
  r.state.className = 'state';
  $('results').append(r.li);
  return r;
}

/** PDQ hashes under this quality are not matched (the reference's rule, docs/api.md). */
const PDQ_MIN_QUALITY = 50;

/** A category id as words: `child_sexual_abuse` → `child sexual abuse`. */
const categoryWords = (id) => id.replaceAll('_', ' ');

/** The row's text for the server's verdict on `item`. */
function describeVerdict(result, item) {
  if (result.match) {
    const categories = result.categories ?? [];
    const listed = categories.length ? ` (${categories.map(categoryWords).join(', ')})` : '';
    return { text: `Can't be uploaded: it matches a list of known abusive images${listed}`, cls: 'match' };
  }
  // The verdict does not say why a hash was not matched; the page knows its own item's quality.
  const lowQuality = item.pdq !== undefined && item.pdq_quality < PDQ_MIN_QUALITY;
  const note = lowQuality ? ` (PDQ quality ${item.pdq_quality} is below ${PDQ_MIN_QUALITY}: the PDQ hash was not checked)` : '';
  return { text: `No match${note}`, cls: 'nomatch' };
}

async function check(files) {
  const rows = files.map(row);
  const hashed = [];
  status.textContent = `Hashing ${files.length} image${files.length === 1 ? '' : 's'} on this device…`;
  let i = 0;
  for await (const item of hasher.hashMany(files, {
    algorithms: IMAGE_ALGORITHMS,
    onProgress: (p) => {
      const r = rows[i];
      r.bar.value = imageProgress(p);
      r.state.textContent = p.stage === 'read' ? 'Reading…' : p.stage === 'done' ? 'Hashed' : 'Hashing…';
    },
  })) {
    const r = rows[i];
    r.bar.value = 1;
    if (item.error) {
      r.state.textContent = `Could not hash this file: ${item.error.message} (${item.error.code ?? item.error.name})`;
      r.state.className = 'state error';
    } else {
      r.state.textContent = `Hashed in ${Math.round(item.result.timings.totalMs)} ms; checking…`;
      hashed.push({ row: r, item: hashItem(item.result) });
    }
    i++;
  }
  if (!hashed.length) {
    status.textContent = 'Nothing to check.';
    return;
  }
  const body = JSON.stringify({ items: hashed.map((h) => h.item) });
  $('sent').textContent = JSON.stringify(JSON.parse(body), null, 2);
  $('sent-box').hidden = false;
  status.textContent = 'Checking the hashes…';
  let response;
  try {
    response = await fetch('/v1/match', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  } catch (err) {
    status.textContent = `Could not reach the server: ${err.message}`;
    for (const h of hashed) h.row.state.textContent = 'Not checked: the server could not be reached';
    return;
  }
  if (!response.ok) {
    const message = await apiError(response);
    status.textContent = `The check failed: ${message}`;
    for (const h of hashed) h.row.state.textContent = 'Not checked';
    return;
  }
  const { results } = await response.json();
  for (const result of results) {
    const h = hashed[result.item];
    if (!h) continue;
    const { text, cls } = describeVerdict(result, h.item);
    h.row.state.textContent = text;
    h.row.state.className = `state ${cls}`;
  }
  status.textContent = `Checked ${hashed.length} image${hashed.length === 1 ? '' : 's'}.`;
}

function enqueue(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  busy = busy.then(() => check(files)).catch((err) => {
    status.textContent = `Something went wrong: ${err.message}`;
  });
}

$('files').addEventListener('change', (e) => {
  enqueue(e.target.files);
  e.target.value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  enqueue(e.dataTransfer.files);
});

busy = createHasher().then((h) => {
  hasher = h;
  status.textContent = 'Ready. Choose images to check.';
}, (err) => {
  status.textContent = `The hasher could not start: ${err.message}`;
  throw err;
});
