//! Test vectors embedded in the test binary (so the same vectors run natively, in Node and
//! in Chromium), their expected-value files, and the small decoders the tests need:
//! PPM/PGM, gzip, PNG, and the documented synthetic-image formulas.

use std::io::Read;

use pixelprint::{PdqHash, PixelFormat, PixelView};

macro_rules! vector {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/pdq/",
                $path
            )) as &[u8],
        )
    };
}

/// Reference C++ core on full-resolution decoded pixels of the reference images.
pub const CPP_CORE_FULLRES: &str = include_str!("../vectors/pdq/cpp-core-fullres.txt");
/// Reference C++ core on the synthetic images.
pub const CPP_CORE_SYNTHETIC: &str = include_str!("../vectors/pdq/synthetic/EXPECTED_cpp_core.txt");
/// Reference C++ core (via PyPI `pdqhash`) on decoded pixels that have no row in the files above.
pub const PDQHASH_PYPI_DECODED: &str = include_str!("../vectors/pdq/pdqhash-pypi-decoded.txt");
/// The reference DCT matrix as f32 bit patterns.
pub const DCT_MATRIX_BITS: &str = include_str!("../vectors/pdq/dct_matrix_16x64_f32_bits.txt");

/// Decoded RGB of reference images (gzip'd binary PPM), by file name.
pub const DECODED_RGB: &[(&str, &[u8])] = &[
    vector!("decoded-rgb/bridge-mods_shrink-a-lot.imageio.ppm.gz"),
    vector!("decoded-rgb/bridge-mods_square-128x128.imageio.ppm.gz"),
    vector!("decoded-rgb/misc-images_small.imageio.ppm.gz"),
    vector!("decoded-rgb/misc-images_wee.imageio.ppm.gz"),
    vector!("decoded-rgb/misc-images_wee.pillow-libjpeg-turbo.ppm.gz"),
    vector!("decoded-rgb/reg-test-input_dih_bridge-1-original.imageio.ppm.gz"),
    vector!("decoded-rgb/reg-test-input_labelme-subset_q0003.imageio.ppm.gz"),
    vector!("decoded-rgb/reg-test-input_labelme-subset_q0122.imageio.ppm.gz"),
];

/// Lossless reference images, by their path in the reference repository's `pdq/data`.
pub const PNG_IMAGES: &[(&str, &[u8])] = &[
    vector!("misc-images/c.png"),
    vector!("misc-images/modes/1.png"),
    vector!("misc-images/modes/L.png"),
    vector!("misc-images/modes/LA.png"),
    vector!("misc-images/modes/P.png"),
    vector!("misc-images/modes/RGBA.png"),
    vector!("reg-test-input/pen-and-coaster.png"),
];

/// Stored copies of some synthetic images, to prove the generator below reproduces them.
pub const STORED_SYNTHETIC: &[(&str, &[u8])] = &[
    vector!("synthetic/noise_7x13.ppm"),
    vector!("synthetic/noise_5x5.ppm"),
    vector!("synthetic/noise_63x65.ppm"),
    vector!("synthetic/grad_100x75.ppm"),
    vector!("synthetic/pattern_100x75.ppm"),
    vector!("synthetic/checker8_256x256.pgm"),
    vector!("synthetic/vstripes_4px_64x64.pgm"),
    vector!("synthetic/gray_grad_300x200.pgm"),
];

/// An owned image: tightly packed pixels and their format.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub data: Vec<u8>,
}

impl Image {
    pub fn view(&self) -> PixelView<'_> {
        PixelView::packed(&self.data, self.width, self.height, self.format).expect("valid image")
    }
}

/// One row of an expected-value file.
#[derive(Debug, Clone)]
pub struct Expected {
    pub hash: PdqHash,
    pub quality: u8,
    pub width: u32,
    pub height: u32,
    pub file: String,
    pub dihedral: [PdqHash; 8],
    pub dihedral_quality: u8,
}

/// Parses `hash,quality,WxH,file,[dih=]h1:...:h8,[dihq=]q` rows, skipping `#` comments.
pub fn parse_expected(text: &str) -> Vec<Expected> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 6, "expected row has 6 fields: {line}");
            let (w, h) = f[2].split_once('x').expect("WxH");
            let dih: Vec<PdqHash> = f[4]
                .trim_start_matches("dih=")
                .split(':')
                .map(|s| s.parse().expect("dihedral hex"))
                .collect();
            Expected {
                hash: f[0].parse().expect("hash hex"),
                quality: f[1].parse().expect("quality"),
                width: w.parse().expect("width"),
                height: h.parse().expect("height"),
                file: f[3].to_string(),
                dihedral: dih.try_into().expect("8 dihedral hashes"),
                dihedral_quality: f[5]
                    .trim_start_matches("dihq=")
                    .parse()
                    .expect("dihedral quality"),
            }
        })
        .collect()
}

pub fn find<'a>(rows: &'a [Expected], file: &str) -> &'a Expected {
    rows.iter()
        .find(|r| r.file == file)
        .unwrap_or_else(|| panic!("no expected row for {file}"))
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// Binary PPM (P6) or PGM (P5) with maxval 255 and single-space/newline separated header.
pub fn parse_pnm(bytes: &[u8]) -> Image {
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if bytes[pos] == b'#' {
            while bytes[pos] != b'\n' {
                pos += 1;
            }
            continue;
        }
        let start = pos;
        while !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(
            std::str::from_utf8(&bytes[start..pos])
                .expect("ascii header")
                .to_string(),
        );
    }
    pos += 1; // the single whitespace byte after maxval
    let format = match fields[0].as_str() {
        "P6" => PixelFormat::Rgb8,
        "P5" => PixelFormat::Gray8,
        other => panic!("unsupported PNM magic {other}"),
    };
    assert_eq!(fields[3], "255", "maxval");
    let width: u32 = fields[1].parse().unwrap();
    let height: u32 = fields[2].parse().unwrap();
    let len = width as usize * height as usize * format.bytes_per_pixel();
    Image {
        width,
        height,
        format,
        data: bytes[pos..pos + len].to_vec(),
    }
}

/// Lossless PNG decode to 8-bit pixels: palette expanded to RGB(A), low bit depths scaled to
/// 0..255, grey+alpha reduced to its grey channel (alpha is ignored by the hashes).
pub fn decode_png(bytes: &[u8]) -> Image {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    let (format, data) = match info.color_type {
        png::ColorType::Grayscale => (PixelFormat::Gray8, buf),
        png::ColorType::GrayscaleAlpha => (
            PixelFormat::Gray8,
            buf.chunks_exact(2).map(|p| p[0]).collect(),
        ),
        png::ColorType::Rgb => (PixelFormat::Rgb8, buf),
        png::ColorType::Rgba => (PixelFormat::Rgba8, buf),
        png::ColorType::Indexed => panic!("EXPAND leaves no indexed output"),
    };
    Image {
        width: info.width,
        height: info.height,
        format,
        data,
    }
}

fn xorshift32(seed: u32) -> impl Iterator<Item = u32> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    })
}

/// Regenerates a synthetic image from the formulas documented in `gen_synthetic.py`
/// (reference conformance data), by file name.
pub fn synthetic(name: &str) -> Image {
    let stem = name.rsplit_once('.').expect("extension").0;
    let (kind, size) = stem.rsplit_once('_').expect("kind_size");
    let (w, h) = size.split_once('x').expect("WxH");
    let (width, height): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let (wu, hu) = (width as usize, height as usize);
    let rgb = |f: &dyn Fn(usize, usize) -> [u8; 3]| -> Image {
        let mut data = Vec::with_capacity(wu * hu * 3);
        for y in 0..hu {
            for x in 0..wu {
                data.extend_from_slice(&f(x, y));
            }
        }
        Image {
            width,
            height,
            format: PixelFormat::Rgb8,
            data,
        }
    };
    let grey = |f: &dyn Fn(usize, usize) -> u8| -> Image {
        let data = (0..hu)
            .flat_map(|y| (0..wu).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect();
        Image {
            width,
            height,
            format: PixelFormat::Gray8,
            data,
        }
    };
    match kind {
        "noise" => {
            let seed = 1_000_003u32.wrapping_mul(width).wrapping_add(height);
            let data: Vec<u32> = xorshift32(seed).take(wu * hu).collect();
            rgb(&|x, y| {
                let v = data[y * wu + x];
                [v as u8, (v >> 8) as u8, (v >> 16) as u8]
            })
        }
        "grad" => rgb(&|x, y| {
            [
                (x * 255 / (wu - 1).max(1)) as u8,
                (y * 255 / (hu - 1).max(1)) as u8,
                ((x + y) * 255 / (wu + hu - 2).max(1)) as u8,
            ]
        }),
        "pattern" => rgb(&|x, y| {
            [
                ((x * x + 3 * y) % 256) as u8,
                ((x * y) / 7 % 256) as u8,
                ((5 * x + 11 * y) % 256) as u8,
            ]
        }),
        "gray_const128" => grey(&|_, _| 128),
        "black" => rgb(&|_, _| [0, 0, 0]),
        "white" => rgb(&|_, _| [255, 255, 255]),
        "checker8" => grey(&|x, y| if ((x / 8) + (y / 8)) % 2 == 1 { 255 } else { 0 }),
        "vstripes_4px" => grey(&|x, _| if (x / 4) % 2 == 1 { 255 } else { 0 }),
        "gray_grad" => grey(&|x, _| (x * 255 / 299) as u8),
        other => panic!("unknown synthetic image kind {other}"),
    }
}

/// Reference JPEGs with a canonical row in `cpp-core-fullres.txt`, by their path in the
/// reference repository's `pdq/data`: the end-to-end (decode + hash) set.
pub const JPEG_IMAGES: &[(&str, &[u8])] = &[
    vector!("bridge-mods/aaa-orig.jpg"),
    vector!("bridge-mods/blur-a-little.jpg"),
    vector!("bridge-mods/blur-a-lot.jpg"),
    vector!("bridge-mods/high-contrast.jpg"),
    vector!("bridge-mods/high-saturation.jpg"),
    vector!("bridge-mods/sharpen-a-little.jpg"),
    vector!("bridge-mods/sharpen-a-lot.jpg"),
    vector!("bridge-mods/shrink-a-little.jpg"),
    vector!("bridge-mods/shrink-a-lot.jpg"),
    vector!("bridge-mods/square-128x128.jpg"),
    vector!("bridge-mods/square-256x256.jpg"),
    vector!("bridge-mods/square-512x512.jpg"),
    vector!("misc-images/modes/RGB.jpg"),
    vector!("misc-images/modes/YCbCr.jpg"),
    vector!("misc-images/modes/original.jpg"),
    vector!("misc-images/small.jpg"),
    vector!("misc-images/wee.jpg"),
    vector!("reg-test-input/dih/bridge-1-original.jpg"),
    vector!("reg-test-input/dih/bridge-2-rotate-90.jpg"),
    vector!("reg-test-input/dih/bridge-3-rotate-180.jpg"),
    vector!("reg-test-input/dih/bridge-4-rotate-270.jpg"),
    vector!("reg-test-input/dih/bridge-5-flipx.jpg"),
    vector!("reg-test-input/dih/bridge-6-flipy.jpg"),
    vector!("reg-test-input/dih/bridge-7-flip-plus-1.jpg"),
    vector!("reg-test-input/dih/bridge-8-flip-minus-1.jpg"),
    vector!("reg-test-input/exif-rotn/exif-rotn-1.jpg"),
    vector!("reg-test-input/exif-rotn/exif-rotn-3.jpg"),
    vector!("reg-test-input/exif-rotn/exif-rotn-6.jpg"),
    vector!("reg-test-input/exif-rotn/exif-rotn-8.jpg"),
    vector!("reg-test-input/labelme-subset/q0003.jpg"),
    vector!("reg-test-input/labelme-subset/q0004.jpg"),
    vector!("reg-test-input/labelme-subset/q0122.jpg"),
    vector!("reg-test-input/labelme-subset/q0291.jpg"),
    vector!("reg-test-input/labelme-subset/q0746.jpg"),
    vector!("reg-test-input/labelme-subset/q1050.jpg"),
    vector!("reg-test-input/labelme-subset/q2821.jpg"),
];

/// Reference images without a canonical row; their expected hashes are the reference core on
/// the pixels Pillow decodes (`REFERENCE_CORE_PILLOW_RGB`).
pub const PILLOW_RGB_IMAGES: &[(&str, &[u8])] = &[
    vector!("misc-images/modes/CMYK.jpg"),
    vector!("misc-images/modes/F.webp"),
    vector!("misc-images/modes/HSV.webp"),
    vector!("misc-images/modes/I.webp"),
    vector!("misc-images/modes/LAB.webp"),
    vector!("misc-images/modes/PA.webp"),
];

/// Reference C++ core on `Image.open(f).convert("RGB")` pixels (Pillow 13).
pub const REFERENCE_CORE_PILLOW_RGB: &str =
    include_str!("../vectors/pdq/reference-core-pillow-rgb.txt");

macro_rules! decode_fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name
            )) as &[u8],
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name,
                ".pillow.",
                "ppm"
            )) as &[u8],
        )
    };
    ($name:literal, grey) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name
            )) as &[u8],
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name,
                ".pillow.",
                "pgm"
            )) as &[u8],
        )
    };
}

/// Small files in each format and sample layout, with the pixels Pillow converts them to
/// (`scripts/vectors/pillow_conversions.py`): (name, file, expected PPM or PGM).
pub const DECODE_FIXTURES: &[(&str, &[u8], &[u8])] = &[
    decode_fixture!("rgb16.png"),
    decode_fixture!("rgba16.png"),
    decode_fixture!("grey16.png", grey),
    decode_fixture!("greyalpha16.png", grey),
    decode_fixture!("grey16.tif", grey),
    decode_fixture!("greyalpha8.png", grey),
    decode_fixture!("palette.png"),
    decode_fixture!("palette-trns.png"),
    decode_fixture!("rgba8.png"),
    decode_fixture!("cmyk.jpg"),
    decode_fixture!("cmyk.tif"),
    decode_fixture!("lossless.webp"),
    decode_fixture!("rgb.bmp"),
    decode_fixture!("two-frames.gif"),
    decode_fixture!("transparent.gif"),
];

macro_rules! orientation_fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name
            )) as &[u8],
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/decode/",
                $name,
                ".upright.ppm"
            )) as &[u8],
        )
    };
}

/// One image stored with each EXIF orientation tag, with Pillow's `ImageOps.exif_transpose`
/// of it: (name, file, upright PPM).
pub const ORIENTATION_FIXTURES: &[(&str, &[u8], &[u8])] = &[
    orientation_fixture!("orientation-1.png"),
    orientation_fixture!("orientation-2.png"),
    orientation_fixture!("orientation-3.png"),
    orientation_fixture!("orientation-4.png"),
    orientation_fixture!("orientation-5.png"),
    orientation_fixture!("orientation-6.png"),
    orientation_fixture!("orientation-7.png"),
    orientation_fixture!("orientation-8.png"),
    orientation_fixture!("orientation-6.webp"),
];

/// Small JPEGs covering the layouts the JPEG decoder handles (`decode/jpeg/README.md`).
pub const JPEG_FIXTURES: &[(&str, &[u8])] = &[
    (
        "420-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-17x33.jpg"
        )),
    ),
    (
        "420-1x1.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-1x1.jpg"
        )),
    ),
    (
        "420-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-250x187.jpg"
        )),
    ),
    (
        "420-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-33x17.jpg"
        )),
    ),
    (
        "420-521x77.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-521x77.jpg"
        )),
    ),
    (
        "420-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-64x48.jpg"
        )),
    ),
    (
        "420-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-7x9.jpg"
        )),
    ),
    (
        "420-optimize-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-optimize-250x187.jpg"
        )),
    ),
    (
        "420-progressive-1x1.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-progressive-1x1.jpg"
        )),
    ),
    (
        "420-progressive-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-progressive-250x187.jpg"
        )),
    ),
    (
        "420-progressive-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-progressive-7x9.jpg"
        )),
    ),
    (
        "420-progressive-restart-1mcu-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-progressive-restart-1mcu-33x17.jpg"
        )),
    ),
    (
        "420-progressive-restart-1row-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-progressive-restart-1row-250x187.jpg"
        )),
    ),
    (
        "420-q1-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-q1-250x187.jpg"
        )),
    ),
    (
        "420-q100-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-q100-33x17.jpg"
        )),
    ),
    (
        "420-q5-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-q5-250x187.jpg"
        )),
    ),
    (
        "420-restart-1mcu-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-restart-1mcu-33x17.jpg"
        )),
    ),
    (
        "420-restart-2rows-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/420-restart-2rows-250x187.jpg"
        )),
    ),
    (
        "422-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-17x33.jpg"
        )),
    ),
    (
        "422-1x1.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-1x1.jpg"
        )),
    ),
    (
        "422-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-250x187.jpg"
        )),
    ),
    (
        "422-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-33x17.jpg"
        )),
    ),
    (
        "422-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-64x48.jpg"
        )),
    ),
    (
        "422-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-7x9.jpg"
        )),
    ),
    (
        "422-progressive-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-progressive-17x33.jpg"
        )),
    ),
    (
        "422-restart-3mcu-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/422-restart-3mcu-64x48.jpg"
        )),
    ),
    (
        "444-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-17x33.jpg"
        )),
    ),
    (
        "444-1x1.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-1x1.jpg"
        )),
    ),
    (
        "444-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-250x187.jpg"
        )),
    ),
    (
        "444-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-33x17.jpg"
        )),
    ),
    (
        "444-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-64x48.jpg"
        )),
    ),
    (
        "444-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-7x9.jpg"
        )),
    ),
    (
        "444-optimize-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-optimize-33x17.jpg"
        )),
    ),
    (
        "444-progressive-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-progressive-33x17.jpg"
        )),
    ),
    (
        "444-progressive-517x43.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-progressive-517x43.jpg"
        )),
    ),
    (
        "444-progressive-restart-5mcu-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-progressive-restart-5mcu-64x48.jpg"
        )),
    ),
    (
        "444-q1-progressive-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-q1-progressive-64x48.jpg"
        )),
    ),
    (
        "444-q100-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/444-q100-64x48.jpg"
        )),
    ),
    (
        "cjpeg-411-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-411-250x187.jpg"
        )),
    ),
    (
        "cjpeg-411-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-411-33x17.jpg"
        )),
    ),
    (
        "cjpeg-411-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-411-7x9.jpg"
        )),
    ),
    (
        "cjpeg-411-progressive-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-411-progressive-64x48.jpg"
        )),
    ),
    (
        "cjpeg-420-progressive-restart-1mcu-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-420-progressive-restart-1mcu-64x48.jpg"
        )),
    ),
    (
        "cjpeg-420-q1-16bit-dqt-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-420-q1-16bit-dqt-64x48.jpg"
        )),
    ),
    (
        "cjpeg-420-restart-1row-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-420-restart-1row-64x48.jpg"
        )),
    ),
    (
        "cjpeg-422-optimize-restart-2mcu-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-422-optimize-restart-2mcu-33x17.jpg"
        )),
    ),
    (
        "cjpeg-440-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-440-250x187.jpg"
        )),
    ),
    (
        "cjpeg-440-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-440-33x17.jpg"
        )),
    ),
    (
        "cjpeg-440-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-440-7x9.jpg"
        )),
    ),
    (
        "cjpeg-440-progressive-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-440-progressive-17x33.jpg"
        )),
    ),
    (
        "cjpeg-grey-progressive-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-grey-progressive-64x48.jpg"
        )),
    ),
    (
        "cjpeg-rgb-optimize-17x33.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-rgb-optimize-17x33.jpg"
        )),
    ),
    (
        "cjpeg-rgb-progressive-restart-2mcu-131x97.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/cjpeg-rgb-progressive-restart-2mcu-131x97.jpg"
        )),
    ),
    (
        "grey-1x1.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-1x1.jpg"
        )),
    ),
    (
        "grey-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-250x187.jpg"
        )),
    ),
    (
        "grey-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-33x17.jpg"
        )),
    ),
    (
        "grey-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-64x48.jpg"
        )),
    ),
    (
        "grey-7x9.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-7x9.jpg"
        )),
    ),
    (
        "grey-optimize-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-optimize-64x48.jpg"
        )),
    ),
    (
        "grey-progressive-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-progressive-250x187.jpg"
        )),
    ),
    (
        "grey-progressive-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-progressive-33x17.jpg"
        )),
    ),
    (
        "grey-progressive-restart-7mcu-250x187.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-progressive-restart-7mcu-250x187.jpg"
        )),
    ),
    (
        "grey-q100-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-q100-33x17.jpg"
        )),
    ),
    (
        "grey-restart-1row-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/grey-restart-1row-64x48.jpg"
        )),
    ),
    (
        "rgb-64x48.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/rgb-64x48.jpg"
        )),
    ),
    (
        "rgb-progressive-33x17.jpg",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/decode/jpeg/rgb-progressive-33x17.jpg"
        )),
    ),
];

/// An arithmetic-coded JPEG (`cjpeg -arithmetic`), which the JPEG decoder leaves out.
pub const JPEG_ARITHMETIC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/decode/jpeg/cjpeg-arithmetic-64x48.jpg"
));

/// SHA-256 of the pixels Pillow decodes from each JPEG above and each in `JPEG_IMAGES`
/// (`scripts/vectors/jpeg_pillow_pixels.py`).
pub const JPEG_PILLOW_PIXELS: &str = include_str!("../vectors/decode/jpeg/pillow-pixels.txt");
