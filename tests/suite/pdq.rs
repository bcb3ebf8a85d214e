//! PDQ conformance: every stage and every reference vector, bit for bit.

use pixelprint::pdq::{self, dct, luma, Dihedral};
use pixelprint::{pdq_dihedral, pdq_hash, CallerError, PdqHash, PixelFormat, PixelView};

use crate::vectors::{self, Expected, Image};
use crate::{environment, report};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Asserts hash, quality, the eight dihedral hashes and their quality; the message names the
/// image and the first field that differs.
fn assert_matches_reference(image: &Image, expected: &Expected) {
    let name = &expected.file;
    assert_eq!(
        (image.width, image.height),
        (expected.width, expected.height),
        "{name}: size"
    );
    let plain = pdq_hash(&image.view());
    assert_eq!(
        plain.hash,
        expected.hash,
        "{name}: hash (distance {})",
        plain.hash.distance(&expected.hash)
    );
    assert_eq!(plain.quality, expected.quality, "{name}: quality");
    let dih = pdq_dihedral(&image.view());
    for (variant, want) in Dihedral::ALL.iter().zip(expected.dihedral) {
        let got = dih.get(*variant);
        assert_eq!(
            got,
            want,
            "{name}: dihedral {} (distance {})",
            variant.name(),
            got.distance(&want)
        );
    }
    assert_eq!(
        dih.quality, expected.dihedral_quality,
        "{name}: dihedral quality"
    );
    // The default path is the streaming one; the scalar oracle must agree on every vector.
    assert_eq!(
        pdq::scalar::pdq_hash(&image.view()),
        plain,
        "{name}: scalar plain hash"
    );
    assert_eq!(
        pdq::scalar::pdq_dihedral(&image.view()),
        dih,
        "{name}: scalar dihedral hashes"
    );
    let bits = |b: pdq::Buffer64x64| {
        b.0.iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bits(pdq::fast::downsample(&image.view())),
        bits(pdq::downsample(luma::luma_plane(&image.view()))),
        "{name}: streaming 64x64 buffer"
    );
}

#[test]
fn dct_matrix_equals_the_reference_bit_patterns() {
    let ours = dct::compute_dct_matrix();
    let rows: Vec<&str> = vectors::DCT_MATRIX_BITS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(rows.len(), 16);
    for (i, row) in rows.iter().enumerate() {
        let bits: Vec<u32> = row
            .split_whitespace()
            .map(|w| u32::from_str_radix(w, 16).unwrap())
            .collect();
        assert_eq!(bits.len(), 64);
        for (j, want) in bits.iter().enumerate() {
            assert_eq!(ours[i][j].to_bits(), *want, "D[{i}][{j}]");
        }
    }
}

#[test]
fn synthetic_generator_reproduces_the_stored_images() {
    for (path, bytes) in vectors::STORED_SYNTHETIC {
        let name = path.rsplit('/').next().unwrap();
        assert_eq!(
            vectors::synthetic(name),
            vectors::parse_pnm(bytes),
            "{name}"
        );
    }
}

#[test]
fn pdq_matches_reference_on_every_synthetic_case() {
    let rows = vectors::parse_expected(vectors::CPP_CORE_SYNTHETIC);
    assert_eq!(rows.len(), 33, "every row of EXPECTED_cpp_core.txt");
    for row in &rows {
        assert_matches_reference(&vectors::synthetic(&row.file), row);
    }
    report!(
        "pdq conformance [{}]: {} synthetic vectors bit-exact (hash, quality, 8 dihedral)",
        environment(),
        rows.len()
    );
}

#[test]
fn pdq_matches_reference_on_every_decoded_rgb_file() {
    let fullres = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    let pypi = vectors::parse_expected(vectors::PDQHASH_PYPI_DECODED);
    for (path, gz) in vectors::DECODED_RGB {
        let image = vectors::parse_pnm(&vectors::gunzip(gz));
        let name = path.trim_start_matches("decoded-rgb/");
        let expected = match name.strip_suffix(".imageio.ppm.gz") {
            // Java ImageIO pixels: the canonical row of the original JPEG.
            Some(stem) => vectors::find(&fullres, &format!("{}.jpg", stem.replace('_', "/"))),
            // Other decoders' pixels have no canonical row; their expected values come from
            // the reference core run on exactly these pixels (PROVENANCE.md).
            None => vectors::find(&pypi, path),
        };
        assert_matches_reference(&image, expected);
    }
    assert_eq!(vectors::DECODED_RGB.len(), 8);
    report!(
        "pdq conformance [{}]: {} decoded-rgb vectors bit-exact",
        environment(),
        vectors::DECODED_RGB.len()
    );
}

#[test]
fn pdq_matches_reference_on_lossless_reference_images() {
    let fullres = vectors::parse_expected(vectors::CPP_CORE_FULLRES);
    for (path, bytes) in vectors::PNG_IMAGES {
        assert_matches_reference(&vectors::decode_png(bytes), vectors::find(&fullres, path));
    }
    report!(
        "pdq conformance [{}]: {} lossless PNG vectors bit-exact",
        environment(),
        vectors::PNG_IMAGES.len()
    );
}

/// The 64x64 buffer and the 16x16 DCT equal the reference's intermediate dumps, bit for bit.
#[test]
fn intermediate_stages_equal_the_reference_dumps() {
    const DUMPS: &[(&str, &str)] = &[
        (
            "grad_64x64.ppm",
            include_str!("../vectors/pdq/dumps/grad_64x64.dump.txt"),
        ),
        (
            "gray_grad_300x200.pgm",
            include_str!("../vectors/pdq/dumps/gray_grad_300x200.dump.txt"),
        ),
        (
            "noise_127x128.ppm",
            include_str!("../vectors/pdq/dumps/noise_127x128.dump.txt"),
        ),
        (
            "noise_5x5.ppm",
            include_str!("../vectors/pdq/dumps/noise_5x5.dump.txt"),
        ),
        (
            "noise_64x64.ppm",
            include_str!("../vectors/pdq/dumps/noise_64x64.dump.txt"),
        ),
        (
            "pattern_100x75.ppm",
            include_str!("../vectors/pdq/dumps/pattern_100x75.dump.txt"),
        ),
    ];
    for (name, dump) in DUMPS {
        let sections: Vec<Vec<u32>> = dump
            .split("\n#")
            .skip(1)
            .take(2)
            .map(|s| {
                s.lines()
                    .skip(1)
                    .flat_map(|l| l.split_whitespace())
                    .map(|w| u32::from_str_radix(w, 16).unwrap())
                    .collect()
            })
            .collect();
        let image = vectors::synthetic(name);
        let plane = luma::luma_plane(&image.view());
        let buffer = if image.width == 64 && image.height == 64 {
            let mut b = pdq::Buffer64x64::zero();
            for (row, src) in b.0.iter_mut().zip(plane.data.chunks_exact(64)) {
                row.copy_from_slice(src);
            }
            b
        } else {
            pdq::downsample(plane)
        };
        let got: Vec<u32> = buffer.0.iter().flatten().map(|v| v.to_bits()).collect();
        assert_eq!(got, sections[0], "{name}: 64x64 buffer");
        let coefficients = dct::dct_64_to_16(&buffer);
        let got: Vec<u32> = coefficients
            .0
            .iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(got, sections[1], "{name}: 16x16 DCT");
    }
    report!(
        "pdq conformance [{}]: {} intermediate dumps bit-exact",
        environment(),
        DUMPS.len()
    );
}

#[test]
fn a_64x64_input_skips_the_blur_in_the_plain_hash_only() {
    let image = vectors::synthetic("grad_64x64.ppm");
    let plain = pdq_hash(&image.view());
    let dih = pdq_dihedral(&image.view());
    assert_eq!(plain.hash.distance(&dih.get(Dihedral::Original)), 2);
}

#[test]
fn images_under_5_px_on_a_side_hash_to_zero_with_quality_0() {
    for (w, h) in [(1, 1), (4, 4), (4, 100), (100, 4), (1, 5000)] {
        let data = vec![200u8; w * h * 3];
        let view = PixelView::packed(&data, w as u32, h as u32, PixelFormat::Rgb8).unwrap();
        let out = pdq_hash(&view);
        assert_eq!((out.hash, out.quality), (PdqHash::ZERO, 0), "{w}x{h}");
        let dih = pdq_dihedral(&view);
        assert_eq!(
            (dih.hashes, dih.quality),
            ([PdqHash::ZERO; 8], 0),
            "{w}x{h}"
        );
    }
    let data = vec![7u8; 5 * 5 * 3];
    let view = PixelView::packed(&data, 5, 5, PixelFormat::Rgb8).unwrap();
    assert_eq!(
        pdq_hash(&view).quality,
        0,
        "a constant 5x5 image is hashable but has quality 0"
    );
}

/// Row padding, an alpha channel and a strided view must not change any bit.
#[test]
fn stride_and_alpha_do_not_change_the_hash() {
    let image = vectors::synthetic("noise_63x65.ppm");
    let want = pdq_dihedral(&image.view());
    let (w, h) = (image.width as usize, image.height as usize);
    let stride = w * 4 + 13;
    let mut padded = vec![0xAB; stride * h];
    for y in 0..h {
        for x in 0..w {
            let src = &image.data[(y * w + x) * 3..][..3];
            padded[y * stride + x * 4..][..4].copy_from_slice(&[
                src[0],
                src[1],
                src[2],
                (x * y) as u8,
            ]);
        }
    }
    // The last row needs no padding.
    padded.truncate(stride * (h - 1) + w * 4);
    let view = PixelView::new(&padded, w as u32, h as u32, stride, PixelFormat::Rgba8).unwrap();
    assert_eq!(pdq_dihedral(&view), want);
}

#[test]
fn bad_geometry_is_an_error_not_a_panic() {
    let buf = vec![0u8; 101];
    assert_eq!(
        PixelView::packed(&buf[..99], 5, 5, PixelFormat::Rgba8).unwrap_err(),
        CallerError::BufferTooShort {
            expected: 100,
            found: 99
        }
    );
    assert_eq!(
        PixelView::packed(&buf, 5, 5, PixelFormat::Rgba8).unwrap_err(),
        CallerError::BufferLengthMismatch {
            expected: 100,
            found: 101
        }
    );
    assert_eq!(
        PixelView::packed(&buf, 0, 5, PixelFormat::Rgba8).unwrap_err(),
        CallerError::ZeroDimension {
            width: 0,
            height: 5
        }
    );
    // 65536 x 65536 RGBA is 16 GiB: more than a 32-bit address space can describe, and more
    // than this buffer holds on a 64-bit one. Either way an error, never an allocation.
    let err = PixelView::packed(&buf, 65536, 65536, PixelFormat::Rgba8).unwrap_err();
    if cfg!(target_pointer_width = "32") {
        assert!(matches!(err, CallerError::SizeOverflow { .. }), "{err}");
    } else {
        assert!(matches!(err, CallerError::BufferTooShort { .. }), "{err}");
    }
}
