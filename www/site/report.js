// The report page: hash the picked files on this device (images: perceptual hashes and
// digests; videos: digests of the bytes, and their vPDQ when the server's hash item takes it),
// build the POST /v1/tips body, show it exactly as it will be sent, send it, show the receipt;
// and check a tip's status with its receipt token.
import { createHasher } from './package/index.js';
import { IMAGE_ALGORITHMS, DIGEST_ALGORITHMS, hashItem, videoItem, serverTakesVpdq, apiError, fileRow, imageProgress } from './items.js';

const $ = (id) => document.getElementById(id);
const status = $('status');
const entries = []; // {file, item | null, li}
let hashing = 0;
let ready;
const vpdqTaken = serverTakesVpdq();

function isVideo(file) {
  return file.type.startsWith('video/') || /\.(mp4|m4v|mov|webm|mkv|avi|3gp)$/i.test(file.name);
}

function urls() {
  return $('urls').value.split('\n').map((u) => u.trim()).filter((u) => u);
}

/** The request body, or a list of problems. The preview shows this very string. */
function buildBody() {
  const problems = [];
  const items = entries.filter((e) => e.item).map((e) => e.item);
  if (!items.length) problems.push('Choose at least one file.');
  if (items.length > 100) problems.push('At most 100 files per report.');
  const category = $('category').value;
  if (!category) problems.push('Choose what kind of content it is.');
  const body = { items, category };
  const description = $('description').value.trim();
  if (description) body.description = description;
  const list = urls();
  if (list.length > 20) problems.push('At most 20 web addresses.');
  for (const u of list) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`Not a web address: ${u}`);
  }
  if (list.length) body.urls = list;
  const contact = $('contact').value.trim();
  if (contact) body.contact = contact;
  return { text: JSON.stringify(body, null, 2), problems };
}

function refresh() {
  const { text, problems } = buildBody();
  $('preview').textContent = text;
  $('form-problem').textContent = hashing ? '' : problems.join(' ');
  $('submit').disabled = hashing > 0 || problems.length > 0;
}

/** The item of one file and what to say about it. */
async function hashFile(hasher, file, onProgress, onVideoProgress) {
  const video = isVideo(file);
  let note = '';
  if (video && await vpdqTaken) {
    try {
      const result = await hasher.hashVideo(file, { onProgress: onVideoProgress });
      return {
        item: videoItem(result),
        text: `Video: ${result.vpdq.length} frames fingerprinted (vPDQ, one a second); MD5 and SHA-256 of the file computed.`,
      };
    } catch (err) {
      note = ` Its frames could not be fingerprinted (${err.message}); only MD5 and SHA-256 will be sent.`;
    }
  }
  let result;
  try {
    result = await hasher.hash(file, { algorithms: video ? DIGEST_ALGORITHMS : IMAGE_ALGORITHMS, onProgress });
  } catch (err) {
    // An image this browser cannot decode still has exact fingerprints.
    result = await hasher.hash(file, { algorithms: DIGEST_ALGORITHMS, onProgress });
    note = ` Its image hashes could not be computed (${err.message}); only MD5 and SHA-256 will be sent.`;
  }
  return {
    item: video ? videoItem(result) : hashItem(result),
    text: (video ? 'Video: MD5 and SHA-256 of the file computed.' : 'Hashed.') + note,
  };
}

async function addFiles(fileList) {
  const hasher = await ready;
  for (const file of fileList) {
    const { li, bar, state } = fileRow(file, 'Hashing on this device…');
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = `Remove ${file.name}`;
    li.append(remove);
    $('file-list').append(li);
    const entry = { file, item: null, li };
    entries.push(entry);
    remove.addEventListener('click', () => {
      entries.splice(entries.indexOf(entry), 1);
      li.remove();
      refresh();
    });
    hashing++;
    refresh();
    const onProgress = (p) => {
      bar.value = imageProgress(p);
    };
    // Videos: the digests (the first fifth of the bar), then the frames.
    const onVideoProgress = (p) => {
      bar.value = p.stage === 'digest' ? 0.2 * (p.bytesRead / (p.totalBytes || 1))
        : p.stage === 'done' ? 1 : 0.2 + 0.8 * (p.framesDone / (p.framesExpected || 1));
      if (p.stage === 'frames') state.textContent = `Hashing the video on this device: frame ${p.framesDone} of ${p.framesExpected}…`;
    };
    try {
      const { item, text } = await hashFile(hasher, file, onProgress, onVideoProgress);
      entry.item = item;
      state.textContent = text;
    } catch (err) {
      state.textContent = `Could not read this file: ${err.message}`;
      state.className = 'error';
    } finally {
      bar.value = 1;
      hashing--;
      refresh();
    }
  }
  status.textContent = `${entries.filter((e) => e.item).length} file(s) ready to report.`;
}

async function loadCategories() {
  const select = $('category');
  try {
    const response = await fetch('/v1/tips/categories');
    if (!response.ok) throw new Error(await apiError(response));
    const { categories } = await response.json();
    select.replaceChildren(new Option('Choose…', ''), ...categories.map((c) => new Option(c.label, c.id)));
  } catch (err) {
    select.replaceChildren(new Option('Could not load the categories', ''));
    status.textContent = `Could not load the categories: ${err.message}`;
  }
  refresh();
}

$('tip-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const { text, problems } = buildBody();
  if (problems.length || hashing) return;
  $('submit').disabled = true;
  status.textContent = 'Sending the report…';
  try {
    const response = await fetch('/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    if (response.status !== 201) throw new Error(await apiError(response));
    const receipt = await response.json();
    $('receipt-id').textContent = receipt.tip_id;
    $('receipt-token').textContent = receipt.receipt_token;
    $('receipt').hidden = false;
    $('receipt').focus();
    $('status-id').value = receipt.tip_id;
    $('status-token').value = receipt.receipt_token;
    status.textContent = 'Report received. Keep the report id and the secret code.';
  } catch (err) {
    status.textContent = `The report was not sent: ${err.message}`;
    refresh();
  }
});

/** A tip's status as its reporter reads it (the server's `GET /v1/tips/{id}` answer). */
function statusLine(tip) {
  const words = {
    received: 'received',
    in_review: 'being reviewed',
    accepted: 'accepted: its hashes were shared with platforms so that they can block matching content',
    rejected: 'not accepted: its hashes were not shared',
    withdrawn: 'withdrawn: platforms were told to delete its hashes, and they were deleted here',
    closed: 'closed',
  };
  let line = `Report ${tip.tip_id}: ${words[tip.status] ?? tip.status} (sent ${tip.created_at}, last updated ${tip.updated_at}).`;
  const blocked = tip.platform_feedback?.blocked ?? 0;
  if (blocked > 0) line += blocked === 1 ? ' A platform has blocked a match.' : ` ${blocked} platforms have blocked a match.`;
  if (tip.case_number) line += ` Case number: ${tip.case_number}.`;
  return line;
}

/** Sends the status form's id and code to `path` with `method`; shows the answer. */
async function askAboutTip(method, path) {
  const out = $('status-result');
  const id = $('status-id').value.trim();
  const token = $('status-token').value.trim();
  if (!id || !token) {
    out.textContent = 'Enter the report id and the secret code.';
    return;
  }
  out.textContent = 'Checking…';
  try {
    const response = await fetch(`/v1/tips/${encodeURIComponent(id)}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    if (response.status === 404) {
      out.textContent = 'No report with this id and secret code.';
      return;
    }
    if (!response.ok) throw new Error(await apiError(response));
    out.textContent = statusLine(await response.json());
  } catch (err) {
    out.textContent = `Could not check the status: ${err.message}`;
  }
}

$('status-form').addEventListener('submit', (e) => {
  e.preventDefault();
  askAboutTip('GET', '');
});

$('withdraw').addEventListener('click', () => askAboutTip('POST', '/withdraw'));

$('files').addEventListener('change', (e) => {
  const files = [...e.target.files];
  e.target.value = '';
  addFiles(files).catch((err) => {
    status.textContent = `Something went wrong: ${err.message}`;
  });
});
for (const id of ['category', 'description', 'urls', 'contact']) $(id).addEventListener('input', refresh);

refresh();
loadCategories();
ready = createHasher();
ready.then(() => {
  status.textContent = 'Ready. Choose the files to report.';
}, (err) => {
  status.textContent = `The hasher could not start: ${err.message}`;
});
