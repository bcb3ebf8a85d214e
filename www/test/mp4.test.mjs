// The package's MP4/MOV demuxing (lib/mp4.js) in Node, against FFmpeg's reading of the same
// files (ffprobe, as the CLI uses it): frame counts, frame rate, the edit list's window, the
// colour signalling, and coded errors for broken files. And hashVideo in Node (no WebCodecs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { repo } from './helpers.mjs';
import { readMovie, averageFrameRate, h264Colour } from '../package/lib/mp4.js';
import { createHasher } from '../package/index.js';

const videoPath = (name) => fileURLToPath(new URL(`tests/vectors/vpdq/sample-videos/${name}`, repo));
const SAMPLES = ['chair-20-sd-bar.mp4', 'doorknob-hd-no-bar.mp4', 'pattern-sd-grey-bar.mp4', 'test-padded-dimensions.mp4'];

/** ffprobe's view of the first video stream: frames actually decoded, avg_frame_rate, colour. */
function probe(path) {
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
    'stream=nb_read_frames,avg_frame_rate,color_space,color_range', '-of', 'json', path], { encoding: 'utf8' }));
  const s = out.streams[0];
  const [num, den] = s.avg_frame_rate.split('/').map(Number);
  return { frames: Number(s.nb_read_frames), frameRate: num / den, colorSpace: s.color_space, colorRange: s.color_range };
}

async function movieOf(path) {
  return readMovie(new Blob([readFileSync(path)]));
}

function framesShown(movie) {
  const { window, samples } = movie;
  if (!window) return samples.count;
  return samples.cts.filter((t) => t >= window.start && t < window.end).length;
}

test('frame counts and frame rates equal FFmpeg\'s on the samples, a cut, a variable-rate file and a MOV', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pixelprint-mp4-'));
  try {
    const ffmpeg = (args, name) => {
      execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, join(tmp, name)]);
      return join(tmp, name);
    };
    const made = [
      ffmpeg(['-ss', '1.5', '-t', '1.5', '-i', videoPath('doorknob-hd-no-bar.mp4'), '-c', 'copy'], 'cut.mp4'),
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=30:duration=3', '-vf', "setpts='if(lt(N,30),N/30,1+(N-30)/7)/TB'",
        '-fps_mode', 'vfr', '-c:v', 'libx264'], 'vfr.mp4'),
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=30000/1001:duration=2', '-c:v', 'libx264', '-pix_fmt', 'yuvj420p',
        '-colorspace', 'bt709'], 'ntsc.mov'),
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25:duration=2', '-c:v', 'libx264', '-movflags', '+faststart'], 'faststart.mp4'),
    ];
    for (const path of [...SAMPLES.map(videoPath), ...made]) {
      const want = probe(path);
      const movie = await movieOf(path);
      const name = path.split('/').pop();
      assert.equal(framesShown(movie), want.frames, `${name}: frames`);
      assert.equal(movie.frameRate, want.frameRate, `${name}: frame rate`);
      const matrix = { bt709: 1, smpte170m: 6, bt470bg: 5 }[want.colorSpace] ?? null;
      assert.deepEqual(movie.colour, { matrix, fullRange: want.colorRange === 'pc' }, `${name}: colour`);
      console.log(`mp4 [Node]: ${name}: ${framesShown(movie)} frames (${movie.samples.count} in the file), ${movie.frameRate.toFixed(3)} fps, ` +
        `colour ${JSON.stringify(movie.colour)}, as ffprobe`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the frame rate is FFmpeg\'s avg_frame_rate, an outsized last duration tamed as mov_read_stts does', () => {
  assert.equal(averageFrameRate(15360, [614], [512]).value, 30);
  assert.deepEqual(averageFrameRate(30000, [100], [1001]), { num: 30000, den: 1001, value: 30000 / 1001 });
  // 200 frames of 1/30 s and a last one of 10 s: FFmpeg counts the last as an average one.
  assert.equal(averageFrameRate(30, [200, 1], [1, 300]).value, 30);
  // Under 100 frames before it, it is kept.
  assert.equal(averageFrameRate(30, [50, 1], [1, 300]).value, (30 * 51) / 350);
  assert.equal(averageFrameRate(30, [10], [0]), null);
});

test('H.264 colour signalling is read from the SPS VUI', () => {
  // x264 High profile, 320x240, VUI: full range, BT.709 primaries, transfer and matrix.
  const sps = Uint8Array.from([103, 100, 0, 13, 172, 217, 65, 65, 251, 1, 110, 2, 2, 2, 128, 0, 0, 3, 0, 128, 0, 0, 24, 7, 138, 20, 203]);
  assert.deepEqual(h264Colour(sps), { fullRange: true, matrix: 1 });
  // The chair sample's SPS (Main profile, no colour description).
  const chair = Uint8Array.from([103, 77, 64, 30, 236, 160, 240, 45, 208, 128, 0, 0, 3, 0, 128, 0, 0, 30, 7, 139, 22, 203]);
  assert.deepEqual(h264Colour(chair), {});
  assert.throws(() => h264Colour(chair.subarray(0, 5)), /ends early/);
});

test('broken files give coded errors before any decoding', async () => {
  const chair = readFileSync(videoPath('chair-20-sd-bar.mp4'));
  const padded = readFileSync(videoPath('test-padded-dimensions.mp4'));
  const cases = [
    [Buffer.alloc(0), 'empty_input'],
    [Buffer.from('not a video at all, just some text\n'), 'unsupported_format'],
    [Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1]), 'unsupported_format'],
    [chair.subarray(0, 2000), 'truncated_video'],
    [padded.subarray(0, padded.length - 100), 'truncated_video'],
    [padded.subarray(0, 40), 'corrupt_video'],
  ];
  for (const [bytes, code] of cases) {
    await assert.rejects(readMovie(new Blob([bytes])), (e) => e.code === code && e.message.length > 10, `${code}: ${bytes.length} bytes`);
  }
  await assert.rejects(readMovie(new Blob([chair]), { maxFrames: 100 }), { code: 'too_many_frames' });
  await assert.rejects(readMovie(new Blob([chair]), { maxIndexBytes: 1000 }), { code: 'input_too_large' });
});

test('hashVideo in Node says that it needs WebCodecs', async () => {
  const hasher = await createHasher();
  await assert.rejects(hasher.hashVideo(readFileSync(videoPath('test-padded-dimensions.mp4'))), { code: 'unsupported_environment' });
  await assert.rejects(hasher.hashVideo(new Uint8Array(8), { secondsPerHash: 'one' }), { code: 'invalid_option' });
});
