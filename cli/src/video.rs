//! `pixelprint hash-video`: the vPDQ hash of video files, decoded by ffmpeg (see
//! [`crate::ffmpeg`]) and hashed frame by frame by `pixelprint::VpdqHasher`, with the MD5 and
//! SHA-256 of the file's bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pixelprint::video::FrameSelection;
use pixelprint::{
    write_vpdq_text, DigestStream, Digests, PixelFormat, PixelView, VideoError, VpdqFeature,
    VpdqHasher, DEFAULT_MAX_PIXELS, VPDQ_DEFAULT_SECONDS_PER_HASH,
};
use serde::Serialize;

use crate::ffmpeg::{self, FrameReader, Programs, VideoStream};
use crate::files::{self, FileError};

#[derive(Args)]
pub struct HashVideoArgs {
    /// Seconds between hashed frames (frame n is hashed iff n % int(S * fps) == 0); 0 hashes
    /// every frame.
    #[arg(long, short, default_value_t = VPDQ_DEFAULT_SECONDS_PER_HASH, allow_negative_numbers = true)]
    seconds_per_hash: f64,
    /// Output format: JSON lines, or the reference `frameNumber,quality,pdqHex,timestamp`
    /// lines (one video only).
    #[arg(long, short, value_enum, default_value_t = VideoFormat::Jsonl)]
    format: VideoFormat,
    /// Refuse videos whose frames have more pixels than this.
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// The ffmpeg program.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: PathBuf,
    /// The ffprobe program.
    #[arg(long, default_value = "ffprobe")]
    ffprobe: PathBuf,
    /// Video files and directories (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VideoFormat {
    /// One JSON object per video.
    Jsonl,
    /// The reference vPDQ text format, as `vpdq-hash-video` writes it.
    Vpdq,
}

/// A hashed video, as printed in JSON lines.
#[derive(Serialize)]
struct VideoHashes<'a> {
    path: &'a str,
    width: u32,
    height: u32,
    codec: &'a str,
    frame_rate: f64,
    /// Frames decoded (hashed or not).
    frames: u64,
    seconds_per_hash: f64,
    md5: &'a str,
    sha256: &'a str,
    vpdq: &'a [VpdqFeature],
}

#[derive(Serialize)]
struct Failure<'a> {
    path: &'a str,
    error: &'a FileError,
}

impl From<VideoError> for FileError {
    fn from(e: VideoError) -> Self {
        FileError::new(e.code(), e.to_string())
    }
}

/// What hashing one video gives (the digests only for JSON output).
struct Hashed {
    stream: VideoStream,
    frames: u64,
    features: Vec<VpdqFeature>,
    digests: Option<Digests>,
}

/// MD5 / SHA-1 / SHA-256 of a file, read in chunks.
fn digest_file(path: &Path) -> Result<Digests, FileError> {
    let mut file = File::open(path).map_err(|e| FileError::new("io_error", e.to_string()))?;
    let mut stream = DigestStream::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(stream.finish()),
            Ok(n) => stream.update(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FileError::new("io_error", e.to_string())),
        }
    }
}

/// Refuses what is not a non-empty regular file before any program looks at it (a FIFO
/// would block ffprobe).
fn check_file(path: &Path) -> Result<(), FileError> {
    let meta = std::fs::metadata(path).map_err(|e| FileError::new("io_error", e.to_string()))?;
    if !meta.is_file() {
        return Err(FileError::new(
            "not_a_file",
            "expected a regular file (a video), found something else",
        ));
    }
    if meta.len() == 0 {
        return Err(FileError::new(
            "empty_input",
            "input is empty: expected the bytes of a video file, found 0 bytes",
        ));
    }
    Ok(())
}

fn frames_bar(progress: &ProgressBar, stream: &VideoStream, path: &str) {
    progress.reset();
    progress.set_length(stream.declared_frames.unwrap_or(0));
    progress.set_message(path.to_string());
    progress.set_position(0);
}

fn hash_video(
    path: &Path,
    programs: &Programs<'_>,
    args: &HashVideoArgs,
    progress: &ProgressBar,
) -> Result<Hashed, FileError> {
    check_file(path)?;
    if let Some(why) = ffmpeg::cut_short(path) {
        return Err(FileError::new("truncated_video", why));
    }
    let stream = ffmpeg::probe(programs, path)?;
    let pixels = u64::from(stream.width) * u64::from(stream.height);
    if pixels > args.max_pixels {
        return Err(FileError::new(
            "too_many_pixels",
            format!(
                "too many pixels: at most {} allowed, the video's frames are {}x{} = {pixels}",
                args.max_pixels, stream.width, stream.height
            ),
        ));
    }
    let mut hasher = VpdqHasher::new(stream.frame_rate, args.seconds_per_hash)?;
    frames_bar(progress, &stream, &files::display(path));
    let want_digests = args.format == VideoFormat::Jsonl;
    std::thread::scope(|scope| {
        // The digests read the file while ffmpeg decodes it.
        let digests = want_digests.then(|| scope.spawn(|| digest_file(path)));
        let mut reader = FrameReader::spawn(programs, path, &stream)?;
        let mut frame = vec![0u8; reader.frame_bytes()];
        let mut features = Vec::new();
        let mut frames = 0u64;
        while reader.next_frame(&mut frame)? {
            let view = PixelView::packed(&frame, stream.width, stream.height, PixelFormat::Rgb8)
                .map_err(VideoError::from)?;
            features.extend(hasher.push(frames, &view)?);
            frames += 1;
            progress.inc(1);
        }
        reader.finish(frames, stream.declared_frames)?;
        if frames == 0 {
            return Err(FileError::new(
                "no_frames",
                "the video stream has no decodable frames",
            ));
        }
        let digests = match digests.map(|h| h.join()) {
            Some(Ok(d)) => Some(d?),
            Some(Err(_)) => return Err(FileError::new("io_error", "reading the file failed")),
            None => None,
        };
        Ok(Hashed {
            stream,
            frames,
            features,
            digests,
        })
    })
}

pub fn run(args: HashVideoArgs) -> u8 {
    if let Err(e) = FrameSelection::new(args.seconds_per_hash, 1.0) {
        eprintln!("pixelprint: --seconds-per-hash: {e}");
        return 2;
    }
    let Some(inputs) = files::expand_reported(&args.paths) else {
        return 2;
    };
    if args.format == VideoFormat::Vpdq && inputs.len() != 1 {
        eprintln!(
            "pixelprint: --format vpdq prints one video's frames, found {} files; use --format jsonl for several",
            inputs.len()
        );
        return 2;
    }
    let programs = Programs {
        ffmpeg: &args.ffmpeg,
        ffprobe: &args.ffprobe,
    };
    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} frames {elapsed_precise} eta {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut failures = 0usize;
    for input in &inputs {
        let (path, result) = match input {
            Ok(path) => (
                files::display(path),
                hash_video(path, &programs, &args, &progress),
            ),
            Err((path, e)) => (files::display(path), Err(e.clone())),
        };
        let text = match (&result, args.format) {
            (Ok(h), VideoFormat::Jsonl) => {
                let digests = h.digests.as_ref();
                let digest = |pick: fn(&Digests) -> &str| digests.map(pick).unwrap_or_default();
                serde_json::to_string(&VideoHashes {
                    path: &path,
                    width: h.stream.width,
                    height: h.stream.height,
                    codec: &h.stream.codec,
                    frame_rate: h.stream.frame_rate,
                    frames: h.frames,
                    seconds_per_hash: args.seconds_per_hash,
                    md5: digest(|d| &d.md5),
                    sha256: digest(|d| &d.sha256),
                    vpdq: &h.features,
                })
                .map(|s| s + "\n")
            }
            (Ok(h), VideoFormat::Vpdq) => Ok(write_vpdq_text(&h.features)),
            (Err(error), VideoFormat::Jsonl) => {
                failures += 1;
                serde_json::to_string(&Failure { path: &path, error }).map(|s| s + "\n")
            }
            (Err(e), VideoFormat::Vpdq) => {
                failures += 1;
                progress.suspend(|| eprintln!("pixelprint: {path}: {}: {}", e.code, e.message));
                continue;
            }
        };
        // A write error is a broken pipe (e.g. `| head`): stop quietly.
        let written = out
            .write_all(text.unwrap_or_default().as_bytes())
            .and_then(|_| out.flush());
        if written.is_err() {
            break;
        }
    }
    progress.finish_and_clear();
    if failures > 0 {
        if args.format == VideoFormat::Jsonl {
            eprintln!("pixelprint: {failures} of {} videos failed", inputs.len());
        }
        2
    } else {
        0
    }
}
