//! Decoding: end-to-end PDQ on the reference images (our decoder, then our hash, against the
//! reference hashes), Pillow's conversions, the policies, and hostile input.

use pixelprint::{
    decode, pdq_hash, AlphaPolicy, DecodeOptions, DecodedImage, Error, ImageFormat, Orientation,
    OrientationPolicy, PixelFormat,
};

use crate::vectors::{self, Expected};
use crate::{environment, report};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Hamming distance of our decode + PDQ to the reference row, per JPEG: 0 for every file
/// since the decoder gives libjpeg-turbo's pixels (with zune-jpeg 0.5.15 they were 2, 6, 2
/// and 2 bits on wee, q0003, q0004 and q0122). The reference's own tolerance is asserted
/// separately. A change here means the decoder's pixels changed.
const MEASURED_JPEG_DISTANCES: &[(&str, u32)] = &[
    ("bridge-mods/aaa-orig.jpg", 0),
    ("bridge-mods/blur-a-little.jpg", 0),
    ("bridge-mods/blur-a-lot.jpg", 0),
    ("bridge-mods/high-contrast.jpg", 0),
    ("bridge-mods/high-saturation.jpg", 0),
    ("bridge-mods/sharpen-a-little.jpg", 0),
    ("bridge-mods/sharpen-a-lot.jpg", 0),
    ("bridge-mods/shrink-a-little.jpg", 0),
    ("bridge-mods/shrink-a-lot.jpg", 0),
    ("bridge-mods/square-128x128.jpg", 0),
    ("bridge-mods/square-256x256.jpg", 0),
    ("bridge-mods/square-512x512.jpg", 0),
    ("misc-images/modes/RGB.jpg", 0),
    ("misc-images/modes/YCbCr.jpg", 0),
    ("misc-images/modes/original.jpg", 0),
    ("misc-images/small.jpg", 0),
    ("misc-images/wee.jpg", 0),
    ("reg-test-input/dih/bridge-1-original.jpg", 0),
    ("reg-test-input/dih/bridge-2-rotate-90.jpg", 0),
    ("reg-test-input/dih/bridge-3-rotate-180.jpg", 0),
    ("reg-test-input/dih/bridge-4-rotate-270.jpg", 0),
    ("reg-test-input/dih/bridge-5-flipx.jpg", 0),
    ("reg-test-input/dih/bridge-6-flipy.jpg", 0),
    ("reg-test-input/dih/bridge-7-flip-plus-1.jpg", 0),
    ("reg-test-input/dih/bridge-8-flip-minus-1.jpg", 0),
    ("reg-test-input/exif-rotn/exif-rotn-1.jpg", 0),
    ("reg-test-input/exif-rotn/exif-rotn-3.jpg", 0),
    ("reg-test-input/exif-rotn/exif-rotn-6.jpg", 0),
    ("reg-test-input/exif-rotn/exif-rotn-8.jpg", 0),
    ("reg-test-input/labelme-subset/q0003.jpg", 0),
    ("reg-test-input/labelme-subset/q0004.jpg", 0),
    ("reg-test-input/labelme-subset/q0122.jpg", 0),
    ("reg-test-input/labelme-subset/q0291.jpg", 0),
    ("reg-test-input/labelme-subset/q0746.jpg", 0),
    ("reg-test-input/labelme-subset/q1050.jpg", 0),
    ("reg-test-input/labelme-subset/q2821.jpg", 0),
];

/// Likewise for the files whose reference row was computed on Pillow's pixels.
const MEASURED_PILLOW_RGB_DISTANCES: &[(&str, u32)] = &[
    ("misc-images/modes/CMYK.jpg", 0),
    ("misc-images/modes/F.webp", 0),
    ("misc-images/modes/HSV.webp", 0),
    ("misc-images/modes/I.webp", 0),
    ("misc-images/modes/LAB.webp", 0),
    ("misc-images/modes/PA.webp", 0),
];

/// The reference's end-to-end rule: with its own decoder, hashes of quality >= 80 stay
/// within 10 bits of the reference.
const REFERENCE_E2E_MIN_QUALITY: u8 = 80;
const REFERENCE_E2E_MAX_DISTANCE: u32 = 10;

fn decode_default(bytes: &[u8]) -> DecodedImage {
    decode(bytes, &DecodeOptions::default()).unwrap_or_else(|e| panic!("decode failed: {e}"))
}

fn measured(table: &[(&str, u32)], file: &str) -> Option<u32> {
    table.iter().find(|(f, _)| *f == file).map(|(_, d)| *d)
}

/// Decodes and hashes every file, prints the table, and returns the failures (so the whole
/// table is printed before any assertion fails).
fn end_to_end_table(
    title: &str,
    files: &[(&str, &[u8])],
    rows: &[Expected],
    table: &[(&str, u32)],
) -> Vec<String> {
    let mut failures = Vec::new();
    report!("{title} [{}]", environment());
    report!(
        "{:<46} {:>8} {:>11} {:>17}",
        "file",
        "distance",
        "our quality",
        "reference quality"
    );
    for (path, bytes) in files {
        let expected = vectors::find(rows, path);
        let image = decode_default(bytes);
        let out = pdq_hash(&image.view());
        let distance = out.hash.distance(&expected.hash);
        report!(
            "{:<46} {:>8} {:>11} {:>17}",
            path,
            distance,
            out.quality,
            expected.quality
        );
        if (image.width(), image.height()) != (expected.width, expected.height) {
            failures.push(format!(
                "{path}: size {}x{}, reference {}x{}",
                image.width(),
                image.height(),
                expected.width,
                expected.height
            ));
        }
        if expected.quality >= REFERENCE_E2E_MIN_QUALITY && distance > REFERENCE_E2E_MAX_DISTANCE {
            failures.push(format!("{path}: distance {distance} > {REFERENCE_E2E_MAX_DISTANCE} at reference quality {}", expected.quality));
        }
        match measured(table, path) {
            Some(d) if d == distance => {}
            Some(d) => failures.push(format!("{path}: distance {distance}, measured {d} before")),
            None => failures.push(format!(
                "{path}: no measured distance recorded (now {distance})"
            )),
        }
    }
    failures
}

#[test]
fn pdq_of_decoded_jpegs_keeps_the_reference_tolerance_and_the_measured_distances() {
    let rows = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    let failures = end_to_end_table(
        "decode + pdq vs cpp-core-fullres.txt, JPEG",
        vectors::JPEG_IMAGES,
        &rows,
        MEASURED_JPEG_DISTANCES,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        MEASURED_JPEG_DISTANCES.len(),
        vectors::JPEG_IMAGES.len(),
        "one measured distance per file"
    );
}

#[test]
fn pdq_of_decoded_cmyk_and_webp_keeps_the_reference_tolerance_and_the_measured_distances() {
    let rows = vectors::parse_expected(vectors::REFERENCE_CORE_PILLOW_RGB);
    let failures = end_to_end_table(
        "decode + pdq vs reference core on Pillow RGB, CMYK JPEG and lossy WebP",
        vectors::PILLOW_RGB_IMAGES,
        &rows,
        MEASURED_PILLOW_RGB_DISTANCES,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        MEASURED_PILLOW_RGB_DISTANCES.len(),
        vectors::PILLOW_RGB_IMAGES.len(),
        "one measured distance per file"
    );
}

/// The Pillow-pixel rows come from a script; on a file that has a canonical row it must
/// reproduce that row exactly.
#[test]
fn pillow_rgb_reference_rows_reproduce_the_canonical_row_where_one_exists() {
    let pillow = vectors::parse_expected(vectors::REFERENCE_CORE_PILLOW_RGB);
    let canonical = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    let (a, b) = (
        vectors::find(&pillow, "misc-images/modes/original.jpg"),
        vectors::find(&canonical, "misc-images/modes/original.jpg"),
    );
    assert_eq!(
        (a.hash, a.quality, a.dihedral),
        (b.hash, b.quality, b.dihedral)
    );
}

#[test]
fn every_reference_image_with_a_canonical_row_is_decoded_end_to_end() {
    let rows = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    for row in &rows {
        let covered = vectors::JPEG_IMAGES
            .iter()
            .chain(vectors::PNG_IMAGES)
            .any(|(p, _)| *p == row.file);
        assert!(
            covered,
            "{} has a canonical row but is not decoded end to end",
            row.file
        );
    }
}

/// Lossless files decode to the reference's pixels, so decode + hash equals the reference:
/// hash, quality and the 8 dihedral hashes.
#[test]
fn pdq_of_decoded_pngs_equals_the_reference() {
    let rows = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    for (path, bytes) in vectors::PNG_IMAGES {
        let expected = vectors::find(&rows, path);
        let image = decode_default(bytes);
        assert_eq!(image.source_format(), ImageFormat::Png);
        let out = pdq_hash(&image.view());
        assert_eq!(
            out.hash,
            expected.hash,
            "{path}: distance {}",
            out.hash.distance(&expected.hash)
        );
        assert_eq!(out.quality, expected.quality, "{path}: quality");
        let dih = pixelprint::pdq_dihedral(&image.view());
        assert_eq!(dih.hashes, expected.dihedral, "{path}: dihedral");
    }
    report!(
        "decode + pdq [{}]: {} lossless PNG files bit-exact",
        environment(),
        vectors::PNG_IMAGES.len()
    );
}

/// `pixels` as an image in the layout of a PPM (RGB) or PGM (grey): alpha dropped.
fn without_alpha(image: &DecodedImage) -> Vec<u8> {
    match image.pixel_format() {
        PixelFormat::Rgba8 => image
            .pixels()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        _ => image.pixels().to_vec(),
    }
}

#[test]
fn conversions_equal_pillow_for_every_format_and_sample_layout() {
    for (name, bytes, expected) in vectors::DECODE_FIXTURES {
        let want = vectors::parse_pnm(expected);
        let image = decode_default(bytes);
        let extension = name.rsplit('.').next().unwrap();
        let format_name = match extension {
            "jpg" => "jpeg",
            "tif" => "tiff",
            other => other,
        };
        assert_eq!(image.source_format().name(), format_name, "{name}");
        assert_eq!(
            (image.width(), image.height()),
            (want.width, want.height),
            "{name}: size"
        );
        let layout_ok = match want.format {
            PixelFormat::Gray8 => image.pixel_format() == PixelFormat::Gray8,
            _ => image.pixel_format() != PixelFormat::Gray8,
        };
        assert!(
            layout_ok,
            "{name}: layout {:?}, Pillow {:?}",
            image.pixel_format(),
            want.format
        );
        let ours = without_alpha(&image);
        let differing = ours.iter().zip(&want.data).filter(|(a, b)| a != b).count();
        assert_eq!(ours.len(), want.data.len(), "{name}: length");
        assert_eq!(
            differing, 0,
            "{name}: {differing} samples differ from Pillow"
        );
    }
    report!(
        "decode [{}]: {} fixtures equal Pillow's conversion",
        environment(),
        vectors::DECODE_FIXTURES.len()
    );
}

fn fixture(name: &str) -> &'static [u8] {
    vectors::DECODE_FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap()
        .1
}

fn with_alpha(alpha: AlphaPolicy) -> DecodeOptions {
    DecodeOptions {
        alpha,
        ..DecodeOptions::default()
    }
}

/// `(c * a + bg * (255 - a) + 127) / 255`, written out independently of the library.
fn over(c: u8, a: u8, bg: u32) -> u8 {
    ((u32::from(c) * u32::from(a) + bg * (255 - u32::from(a)) + 127) / 255) as u8
}

#[test]
fn alpha_is_kept_by_default_and_composited_on_request() {
    let bytes = fixture("rgba8.png");
    let kept = decode_default(bytes);
    assert_eq!(kept.pixel_format(), PixelFormat::Rgba8);
    assert!(
        kept.pixels().chunks_exact(4).any(|p| p[3] != 255),
        "the fixture has partial alpha"
    );
    for (policy, bg) in [(AlphaPolicy::OverWhite, 255), (AlphaPolicy::OverBlack, 0)] {
        let flat = decode(bytes, &with_alpha(policy)).unwrap();
        assert_eq!(flat.pixel_format(), PixelFormat::Rgb8, "{policy:?}");
        let want: Vec<u8> = kept
            .pixels()
            .chunks_exact(4)
            .flat_map(|p| {
                [
                    over(p[0], p[3], bg),
                    over(p[1], p[3], bg),
                    over(p[2], p[3], bg),
                ]
            })
            .collect();
        assert_eq!(flat.pixels(), &want[..], "{policy:?}");
    }

    // Grey + alpha: the grey channel by default, composited on request.
    let bytes = fixture("greyalpha8.png");
    let kept = decode_default(bytes);
    assert_eq!(kept.pixel_format(), PixelFormat::Gray8);
    let png = vectors::decode_png(bytes);
    assert_eq!(kept.pixels(), &png.data[..], "grey channel");
    let stored = image_la(bytes);
    for (policy, bg) in [(AlphaPolicy::OverWhite, 255), (AlphaPolicy::OverBlack, 0)] {
        let flat = decode(bytes, &with_alpha(policy)).unwrap();
        assert_eq!(flat.pixel_format(), PixelFormat::Gray8);
        let want: Vec<u8> = stored
            .chunks_exact(2)
            .map(|p| over(p[0], p[1], bg))
            .collect();
        assert_eq!(flat.pixels(), &want[..], "{policy:?}");
    }
}

/// Grey+alpha samples of a PNG, read with the png crate (not the decoder under test).
fn image_la(bytes: &[u8]) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::GrayscaleAlpha);
    buf.truncate(info.buffer_size());
    buf
}

/// The upright image as EXIF orientation `tag` defines it, computed here independently of
/// the library: 3 = rotate 180 degrees, 6 = rotate 90 clockwise, 8 = rotate 90 counter-clockwise.
fn upright(stored: &DecodedImage, tag: u8) -> (u32, u32, Vec<u8>) {
    let (w, h) = (stored.width() as usize, stored.height() as usize);
    let bpp = stored.pixel_format().bytes_per_pixel();
    let px = |x: usize, y: usize| &stored.pixels()[(y * w + x) * bpp..][..bpp];
    let mut out = Vec::with_capacity(stored.pixels().len());
    match tag {
        1 => return (w as u32, h as u32, stored.pixels().to_vec()),
        3 => (0..h)
            .for_each(|y| (0..w).for_each(|x| out.extend_from_slice(px(w - 1 - x, h - 1 - y)))),
        6 => (0..w).for_each(|y| (0..h).for_each(|x| out.extend_from_slice(px(y, h - 1 - x)))),
        8 => (0..w).for_each(|y| (0..h).for_each(|x| out.extend_from_slice(px(w - 1 - y, x)))),
        _ => unreachable!(),
    }
    let (uw, uh) = if matches!(tag, 6 | 8) { (h, w) } else { (w, h) };
    (uw as u32, uh as u32, out)
}

#[test]
fn exif_orientation_is_reported_and_applied_only_on_request() {
    let apply = DecodeOptions {
        orientation: OrientationPolicy::Apply,
        ..DecodeOptions::default()
    };
    for tag in [1u8, 3, 6, 8] {
        let path = format!("reg-test-input/exif-rotn/exif-rotn-{tag}.jpg");
        let stored = decode_default(jpeg(&path));
        assert_eq!(
            stored.orientation().map(Orientation::tag),
            Some(tag),
            "{path}"
        );
        assert_eq!(
            (stored.width(), stored.height()),
            (4032, 3024),
            "{path}: stored pixels by default"
        );
        let applied = decode(jpeg(&path), &apply).unwrap();
        assert_eq!(
            applied.orientation().map(Orientation::tag),
            Some(tag),
            "{path}"
        );
        let (w, h, pixels) = upright(&stored, tag);
        assert_eq!(
            (applied.width(), applied.height()),
            (w, h),
            "{path}: applied size"
        );
        assert!(
            applied.pixels() == &pixels[..],
            "{path}: applied pixels are the upright image"
        );
    }
    // A tag outside 1..=8 (0 here) is reported absent; a file without EXIF has none.
    assert_eq!(
        decode_default(jpeg("bridge-mods/aaa-orig.jpg")).orientation(),
        None
    );
    assert_eq!(
        decode_default(jpeg("reg-test-input/labelme-subset/q2821.jpg")).orientation(),
        None
    );
    assert_eq!(
        decode_default(jpeg("bridge-mods/blur-a-lot.jpg")).orientation(),
        Some(Orientation::Normal)
    );
}

/// Every tag 1-8 (PNG eXIf) and a WebP EXIF chunk: reported, and applied exactly as Pillow's
/// `ImageOps.exif_transpose` does.
#[test]
fn each_exif_orientation_is_applied_as_pillow_applies_it() {
    let apply = DecodeOptions {
        orientation: OrientationPolicy::Apply,
        ..DecodeOptions::default()
    };
    for (name, bytes, upright) in vectors::ORIENTATION_FIXTURES {
        let tag: u8 = name["orientation-".len()..][..1].parse().unwrap();
        let stored = decode_default(bytes);
        assert_eq!(
            stored.orientation().map(Orientation::tag),
            Some(tag),
            "{name}"
        );
        assert_eq!(
            (stored.width(), stored.height()),
            (24, 16),
            "{name}: stored pixels by default"
        );
        let applied = decode(bytes, &apply).unwrap();
        let want = vectors::parse_pnm(upright);
        assert_eq!(
            (applied.width(), applied.height()),
            (want.width, want.height),
            "{name}: size"
        );
        assert_eq!(without_alpha(&applied), want.data, "{name}: pixels");
    }
}

fn code_of(bytes: &[u8], options: &DecodeOptions) -> (&'static str, String) {
    match decode(bytes, options) {
        Ok(i) => panic!("decoded {}x{} from hostile input", i.width(), i.height()),
        Err(e) => (e.code(), e.to_string()),
    }
}

#[test]
fn empty_text_and_random_input_are_refused_with_their_codes() {
    let options = DecodeOptions::default();
    let (code, message) = code_of(&[], &options);
    assert_eq!(code, "empty_input");
    assert!(message.contains("0 bytes"), "{message}");

    let (code, message) = code_of(b"hello, this is a text file\nnot an image\n", &options);
    assert_eq!(code, "unsupported_format");
    assert!(
        message.contains("text starting \"hello, this is a\""),
        "{message}"
    );

    let random: Vec<u8> = xorshift_bytes(7, 4096);
    let (code, message) = code_of(&random, &options);
    assert_eq!(code, "unsupported_format");
    assert!(message.contains("bytes "), "{message}");

    let (code, message) = code_of(b"qoif\0\0\0\x01\0\0\0\x01\x04\x00rest", &options);
    assert_eq!(code, "unsupported_format");
    assert!(message.contains("QOI"), "{message}");
}

fn xorshift_bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn jpeg(path: &str) -> &'static [u8] {
    vectors::JPEG_IMAGES
        .iter()
        .find(|(p, _)| *p == path)
        .unwrap()
        .1
}

#[test]
fn truncated_files_are_refused_as_truncated() {
    let options = DecodeOptions::default();
    // Baseline and progressive JPEGs cut inside the scan data, and a JPEG without its EOI.
    for path in [
        "bridge-mods/aaa-orig.jpg",
        "reg-test-input/dih/bridge-2-rotate-90.jpg",
        "misc-images/wee.jpg",
    ] {
        let bytes = jpeg(path);
        for cut in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 2] {
            let (code, message) = code_of(&bytes[..cut], &options);
            assert_eq!(code, "truncated_image", "{path} cut at {cut}: {message}");
            assert!(message.starts_with("truncated jpeg image"), "{message}");
        }
    }
    // Other formats cut in half.
    for name in [
        "rgb16.png",
        "grey16.tif",
        "lossless.webp",
        "rgb.bmp",
        "two-frames.gif",
    ] {
        let bytes = fixture(name);
        let (code, message) = code_of(&bytes[..bytes.len() / 2], &options);
        assert_eq!(code, "truncated_image", "{name}: {message}");
    }
    let png = vectors::PNG_IMAGES[0].1;
    let (code, message) = code_of(&png[..png.len() / 2], &options);
    assert_eq!(code, "truncated_image", "{message}");
}

/// Every prefix of every fixture is refused, except a prefix that still holds the whole
/// image (a PNG missing its IEND chunk, a GIF cut after its first frame): that one must
/// decode to exactly the pixels of the whole file, so nothing missing was made up.
#[test]
fn every_prefix_of_small_files_is_refused_or_complete() {
    let options = DecodeOptions::default();
    for (name, bytes, _) in vectors::DECODE_FIXTURES {
        let whole = decode_default(bytes);
        for cut in 0..bytes.len() {
            match decode(&bytes[..cut], &options) {
                Ok(image) => assert!(
                    image == whole,
                    "{name} cut at {cut} decoded to different pixels"
                ),
                Err(e) => assert!(
                    matches!(
                        e.code(),
                        "truncated_image" | "corrupt_image" | "empty_input" | "unsupported_format"
                    ),
                    "{name} cut at {cut}: {e}"
                ),
            }
        }
    }
}

/// A PNG of `width` x `height` RGB pixels with the given chunks between IHDR and IEND.
fn png_chunks(width: u32, height: u32, chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    for (kind, data) in chunks {
        chunk(&mut out, *kind, data);
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG whose header claims `width` x `height`, with a little image data: a decompression
/// bomb's header.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    // zlib stream of a few zero bytes: one stored block.
    png_chunks(
        width,
        height,
        &[(
            b"IDAT",
            &[
                0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01,
            ],
        )],
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_decompression_bomb_is_refused_before_allocating() {
    let bomb = png_claiming(30_000, 30_000);
    let (code, message) = code_of(&bomb, &DecodeOptions::default());
    assert_eq!(code, "too_many_pixels", "{message}");
    assert!(
        message.contains("30000x30000 = 900000000") && message.contains("100000000"),
        "{message}"
    );

    // A JPEG whose frame header claims 65000x65000.
    let mut bytes = jpeg("misc-images/wee.jpg").to_vec();
    let sof = jpeg_frame_header(&bytes);
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let (code, message) = code_of(&bytes, &DecodeOptions::default());
    assert_eq!(code, "too_many_pixels", "{message}");

    // GIF, BMP and WebP headers claiming huge sizes, patched into small valid files.
    let patched = |name: &str, at: usize, value: &[u8]| {
        let mut bytes = fixture(name).to_vec();
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    };
    let bombs = [
        (
            "gif 65535x65535",
            patched("two-frames.gif", 6, &[0xFF, 0xFF, 0xFF, 0xFF]),
        ),
        (
            "bmp 30000x30000",
            patched("rgb.bmp", 18, &[0x30, 0x75, 0, 0, 0x30, 0x75, 0, 0]),
        ),
        // VP8L: 14-bit width - 1 and height - 1 after the signature byte: 16384x16384.
        (
            "webp 16384x16384",
            patched("lossless.webp", 21, &[0xFF, 0xFF, 0xFF, 0x0F]),
        ),
        ("tiff 100000x100000", tiff_claiming(100_000, 100_000)),
    ];
    for (what, bytes) in bombs {
        let (code, message) = code_of(&bytes, &DecodeOptions::default());
        assert_eq!(code, "too_many_pixels", "{what}: {message}");
    }

    // A real image over a lowered limit.
    let limited = DecodeOptions {
        max_pixels: 1_000_000,
        ..DecodeOptions::default()
    };
    let (code, message) = code_of(jpeg("bridge-mods/aaa-orig.jpg"), &limited);
    assert_eq!(code, "too_many_pixels");
    assert!(message.contains("1600x1004"), "{message}");
    let at_limit = DecodeOptions {
        max_pixels: 1600 * 1004,
        ..DecodeOptions::default()
    };
    assert!(
        decode(jpeg("bridge-mods/aaa-orig.jpg"), &at_limit).is_ok(),
        "the limit is inclusive"
    );
}

/// A little-endian grey TIFF whose directory claims `width` x `height`, with one strip of
/// 16 bytes.
fn tiff_claiming(width: u32, height: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, width),              // ImageWidth, LONG
        (257, 4, height),             // ImageLength
        (258, 3, 8),                  // BitsPerSample, SHORT
        (259, 3, 1),                  // Compression: none
        (262, 3, 1),                  // PhotometricInterpretation: black is zero
        (273, 4, 8 + 2 + 8 * 12 + 4), // StripOffsets: just after the directory
        (278, 4, height),             // RowsPerStrip
        (279, 4, 16),                 // StripByteCounts
    ];
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend(0u32.to_le_bytes());
    out.extend([0u8; 16]);
    out
}

/// The offset of the frame header (SOFn marker), found by walking the marker segments.
fn jpeg_frame_header(bytes: &[u8]) -> usize {
    let mut pos = 2;
    loop {
        assert_eq!(bytes[pos], 0xFF, "marker at {pos}");
        if matches!(bytes[pos + 1], 0xC0..=0xCF) && !matches!(bytes[pos + 1], 0xC4 | 0xC8 | 0xCC) {
            return pos;
        }
        pos += 2 + usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
    }
}

#[test]
fn input_over_the_byte_limit_is_refused_before_parsing() {
    let bytes = jpeg("misc-images/wee.jpg");
    let limited = DecodeOptions {
        max_input_bytes: bytes.len() as u64 - 1,
        ..DecodeOptions::default()
    };
    let (code, message) = code_of(bytes, &limited);
    assert_eq!(code, "input_too_large");
    assert!(message.contains(&bytes.len().to_string()), "{message}");
    let exact = DecodeOptions {
        max_input_bytes: bytes.len() as u64,
        ..DecodeOptions::default()
    };
    assert!(decode(bytes, &exact).is_ok(), "the limit is inclusive");
}

#[test]
fn corrupt_data_after_a_valid_signature_is_refused() {
    let options = DecodeOptions::default();
    for (name, bytes, _) in vectors::DECODE_FIXTURES {
        // Keep the first 16 bytes (the signature and, mostly, the header start), scramble the rest.
        let mut bad = bytes[..16.min(bytes.len())].to_vec();
        bad.extend(xorshift_bytes(99, bytes.len()));
        let result = decode(&bad, &options);
        let code = result.as_ref().err().map(Error::code);
        assert!(
            matches!(
                code,
                Some(
                    "truncated_image"
                        | "corrupt_image"
                        | "unsupported_feature"
                        | "too_many_pixels"
                        | "memory_limit_exceeded"
                )
            ),
            "{name}: {code:?}"
        );
    }
}

#[test]
fn gif_decodes_its_first_frame() {
    let image = decode_default(fixture("two-frames.gif"));
    assert_eq!(image.source_format(), ImageFormat::Gif);
    // The two frames are inverses of each other; Pillow's first frame is the expected file.
    let want = vectors::parse_pnm(
        vectors::DECODE_FIXTURES
            .iter()
            .find(|f| f.0 == "two-frames.gif")
            .unwrap()
            .2,
    );
    assert_eq!(without_alpha(&image), want.data);
}

/// Measures the largest single allocation a piece of code makes on the current thread, so
/// the memory bound on hostile input is tested, not assumed (tests run in parallel threads,
/// hence per thread). Test-only; the library itself forbids unsafe code.
// A global allocator is an `unsafe impl`: the workspace denies `unsafe_code` unless opted in here.
#[allow(unsafe_code)]
mod allocations {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        // Const-initialised without a destructor: reading it never allocates.
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    }

    struct Tracking;

    // SAFETY: every method forwards to the system allocator with the caller's arguments
    // unchanged; `note` only records a size and never allocates.
    unsafe impl GlobalAlloc for Tracking {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: the caller's contract for `alloc` is passed on unchanged.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Tracking = Tracking;

    /// `f()` and the largest single allocation it made, in bytes.
    pub fn largest_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        LARGEST.with(|largest| largest.set(0));
        let out = f();
        (out, LARGEST.with(Cell::get))
    }
}

/// A 1x1 PNG whose iCCP chunk inflates to `inflated` bytes of zeros.
fn png_with_icc_bomb(inflated: usize) -> Vec<u8> {
    use std::io::Write;
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated >> 20 {
        deflate.write_all(&zeros).unwrap();
    }
    let profile = deflate.finish().unwrap();
    let mut iccp = b"icc\0\0".to_vec();
    iccp.extend(&profile);
    let pixel = {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[0, 10, 20, 30]).unwrap();
        z.finish().unwrap()
    };
    png_chunks(1, 1, &[(b"iCCP", &iccp), (b"IDAT", &pixel)])
}

#[test]
fn memory_stays_bounded_on_bombs() {
    // Refusing a 30000x30000 header allocates nothing near its size.
    let bomb = png_claiming(30_000, 30_000);
    let (result, largest) =
        allocations::largest_during(|| decode(&bomb, &DecodeOptions::default()));
    assert_eq!(result.unwrap_err().code(), "too_many_pixels");
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");

    // An ICC profile that inflates to 256 MiB in a 1x1 image: the decoder stops at the
    // metadata allowance (16 MiB) and the pixels still decode.
    let bomb = png_with_icc_bomb(256 << 20);
    let (result, largest) =
        allocations::largest_during(|| decode(&bomb, &DecodeOptions::default()));
    let image = result.unwrap();
    assert_eq!(
        (image.width(), image.height(), image.pixels()),
        (1, 1, &[10u8, 20, 30][..])
    );
    report!(
        "memory [{}]: {} byte file with an ICC bomb, largest allocation {largest} bytes",
        environment(),
        bomb.len()
    );
    assert!(largest < 32 << 20, "largest allocation {largest} bytes");
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any bytes, and any corruption of a valid small file, give a result, never a panic.
        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode(&bytes, &DecodeOptions::default());
        }

        #[test]
        fn decode_never_panics_on_corrupted_files(
            which in 0..vectors::DECODE_FIXTURES.len(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        ) {
            let mut bytes = vectors::DECODE_FIXTURES[which].1.to_vec();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let _ = decode(&bytes, &DecodeOptions::default());
        }
    }
}

/// Files the decode fuzz target found: each is refused with its code, without a large
/// allocation (the WebP one made the decoder allocate the 4 GiB its EXIF chunk claims).
#[test]
fn hostile_files_found_by_fuzzing_are_refused() {
    let cases: &[(&str, &[u8], &str)] = &[(
        "webp-exif-chunk-claims-4gib.webp",
        include_bytes!("../vectors/decode/hostile/webp-exif-chunk-claims-4gib.webp"),
        "truncated_image",
    )];
    for (name, bytes, want) in cases {
        let (code, message) = code_of(bytes, &DecodeOptions::default());
        assert_eq!(code, *want, "{name}: {message}");
    }
}

/// Every JPEG with a Pillow row decodes to exactly Pillow's pixels: the fixtures of each
/// layout (sampling, progressive, restarts, grey, RGB, 16-bit tables) and the reference
/// photos. CMYK is the one file our decoder leaves to zune-jpeg; its conversion is Pillow's.
#[test]
fn jpeg_pixels_equal_pillows() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in vectors::JPEG_PILLOW_PIXELS
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (path, mode, w, h, sha) = (f[0], f[1], f[2], f[3], f[4]);
        let bytes = if let Some(name) = path.strip_prefix("decode/jpeg/") {
            vectors::JPEG_FIXTURES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
        } else {
            let name = path.trim_start_matches("pdq/");
            vectors::JPEG_IMAGES
                .iter()
                .chain(vectors::PILLOW_RGB_IMAGES)
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
        };
        let bytes = bytes.unwrap_or_else(|| panic!("{path} is not embedded"));
        let image = decode_default(bytes);
        assert_eq!(
            format!("{} {}", image.width(), image.height()),
            format!("{w} {h}"),
            "{path}"
        );
        let expect_format = if mode == "L" {
            PixelFormat::Gray8
        } else {
            PixelFormat::Rgb8
        };
        assert_eq!(image.pixel_format(), expect_format, "{path}");
        let got = pixelprint::sha256_hex(image.pixels());
        if got != sha {
            wrong.push(path.to_string());
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "pixels differ from Pillow's: {wrong:?}");
    assert_eq!(checked, 103);
    eprintln!("jpeg: {checked} files decode to exactly Pillow's pixels");
}

/// A JPEG feature no decoder of the build implements is reported as such, named.
#[test]
fn arithmetic_coded_jpeg_is_an_unsupported_feature() {
    let err = decode(vectors::JPEG_ARITHMETIC, &DecodeOptions::default()).unwrap_err();
    assert_eq!(err.code(), "unsupported_feature", "{err}");
    assert!(err.to_string().contains("arithmetic coding"), "{err}");
}

/// `hash_bytes` has the JPEG decoder make Pillow's grey image alongside the RGB pixels (PDQ
/// with the imagehash family), or only it (the family alone); the hashes must be exactly
/// those of decoding to RGB and hashing the pixels, for every set, both orientation policies
/// and JPEGs of every layout (a grey JPEG, 4:2:0 phone photo with EXIF orientation 6,
/// progressive, RGB, CMYK).
/// Asserts that `hash_bytes` equals decode-then-hash (digests included) for each algorithm
/// set under both orientation policies; returns the number of cases.
fn hash_bytes_equals_decode_then_hash(name: &str, bytes: &[u8], sets: &[&str]) -> usize {
    use pixelprint::pipeline::{
        hash_bytes, hash_digests, hash_image, AlgorithmSet, FileHashes, HashOptions,
    };
    let mut checked = 0;
    for orientation in [OrientationPolicy::Ignore, OrientationPolicy::Apply] {
        let decode_options = DecodeOptions {
            orientation,
            ..DecodeOptions::default()
        };
        let image = decode(bytes, &decode_options).unwrap();
        for set in sets {
            let algorithms = AlgorithmSet::parse(set).unwrap();
            let mut expected = FileHashes::default();
            hash_image(&image, algorithms, &mut expected).unwrap();
            hash_digests(bytes, algorithms, &mut expected);
            let options = HashOptions {
                algorithms,
                decode: decode_options.clone(),
            };
            let got = hash_bytes(bytes, &options).unwrap();
            assert_eq!(got, expected, "{name} {orientation:?} {set}");
            checked += 1;
        }
    }
    checked
}

#[test]
fn hash_bytes_equals_decode_then_hash_for_every_algorithm_set() {
    let files = [
        (
            "exif-rotn-6",
            vectors::JPEG_IMAGES
                .iter()
                .find(|(n, _)| n.ends_with("exif-rotn-6.jpg")),
        ),
        (
            "wee",
            vectors::JPEG_IMAGES
                .iter()
                .find(|(n, _)| n.ends_with("wee.jpg")),
        ),
        (
            "cmyk",
            vectors::PILLOW_RGB_IMAGES
                .iter()
                .find(|(n, _)| n.ends_with("CMYK.jpg")),
        ),
        (
            "grey",
            vectors::JPEG_FIXTURES
                .iter()
                .find(|(n, _)| *n == "grey-250x187.jpg"),
        ),
        (
            "rgb",
            vectors::JPEG_FIXTURES
                .iter()
                .find(|(n, _)| *n == "rgb-progressive-33x17.jpg"),
        ),
    ];
    let sets = [
        "pdq,ahash,dhash,phash",
        "dhash",
        "ahash,phash,whash,dhash_vertical",
        "pdq",
        "phash16,pdq_dihedral",
        "pdq,pdq_trimmed,dhash",
    ];
    let mut checked = 0;
    for (name, file) in files {
        let bytes = file.unwrap_or_else(|| panic!("{name} is not embedded")).1;
        checked += hash_bytes_equals_decode_then_hash(name, bytes, &sets);
    }
    assert_eq!(checked, 60);
}

/// Requests with PDQ have the JPEG decoder compute PDQ from its rows, keeping no RGB image:
/// on every JPEG fixture and reference JPEG, under both orientation policies, the hashes equal
/// decode-then-hash (whose PDQ equals the canonical reference rows on the reference JPEGs).
#[test]
fn pdq_from_the_decoders_rows_equals_decode_then_hash_on_every_jpeg() {
    let files = vectors::JPEG_FIXTURES
        .iter()
        .chain(vectors::JPEG_IMAGES)
        .filter(|(name, _)| !name.contains("arithmetic"));
    let mut checked = 0;
    for (name, bytes) in files {
        checked +=
            hash_bytes_equals_decode_then_hash(name, bytes, &["pdq", "pdq,pdq_dihedral,dhash,md5"]);
    }
    report!("hash_bytes with PDQ from the decoder's rows equals decode-then-hash: {checked} cases");
    assert!(checked >= 4 * 100, "{checked} cases");
}

/// An EXIF segment that turns the image, placed between the scans of a progressive JPEG: the
/// decoder has begun PDQ on the stored rows when it sees it, so with orientation applied the
/// file is decoded again and hashed turned, as decode-then-hash does.
#[test]
fn an_exif_orientation_after_the_first_scan_is_still_applied() {
    use pixelprint::pipeline::{hash_bytes, hash_image, AlgorithmSet, FileHashes, HashOptions};
    let (_, bytes) = vectors::JPEG_FIXTURES
        .iter()
        .find(|(n, _)| *n == "444-progressive-33x17.jpg")
        .expect("fixture");
    let sos: Vec<usize> = (0..bytes.len() - 1)
        .filter(|&i| bytes[i] == 0xFF && bytes[i + 1] == 0xDA)
        .collect();
    assert!(sos.len() > 1, "a progressive file has several scans");
    // APP1 "Exif": big-endian TIFF, one IFD entry: orientation (0x0112), SHORT, 1, value 6.
    let tiff: &[u8] = &[
        b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
    ];
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(tiff);
    let mut turned = bytes[..sos[1]].to_vec();
    turned.extend_from_slice(&app1);
    turned.extend_from_slice(&bytes[sos[1]..]);

    let decode_options = DecodeOptions {
        orientation: OrientationPolicy::Apply,
        ..DecodeOptions::default()
    };
    let image = decode(&turned, &decode_options).unwrap();
    assert_eq!(
        (image.width(), image.height()),
        (17, 33),
        "the image is turned"
    );
    let algorithms = AlgorithmSet::parse("pdq,dhash").unwrap();
    let mut expected = FileHashes::default();
    hash_image(&image, algorithms, &mut expected).unwrap();
    let options = HashOptions {
        algorithms,
        decode: decode_options,
    };
    assert_eq!(hash_bytes(&turned, &options).unwrap(), expected);
}
