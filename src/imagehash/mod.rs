//! The Python `imagehash` 4.3.2 family, bit-identical with imagehash + Pillow + NumPy + SciPy +
//! PyWavelets (x86-64) on the same pixels: [`average_hash`], [`dhash`], [`dhash_vertical`],
//! [`phash`] and [`whash`] (haar, `remove_max_haar_ll=True`).
//!
//! Every algorithm is a chain of stages, one per file, mirroring imagehash/__init__.py:
//! pixels → [`grey`] (`convert('L')`) → [`resample`] (`resize(..., LANCZOS)`) → a threshold:
//! [`median::mean_u8`] (average), neighbour comparison (difference), [`dct`] + median
//! (perceptual) or [`wavelet`] + median (wavelet) → bits in row-major order, the first the most
//! significant ([`ImageHash`]).
//!
//! The arithmetic is our own, stage by stage, because the point is the exact bits: no resizing
//! crate reproduces Pillow's fixed-point Lanczos, and a general FFT/DCT crate (rustdct and the
//! like) rounds differently from pocketfft, which flips pHash bits wherever coefficients nearly
//! tie. The only floating-point library calls, `sin` and `cos`, are [`trig`]'s correctly
//! rounded ones, so native and wasm builds agree with each other and with glibc.
//!
//! Where imagehash raises, these return [`CallerError::UnsupportedHashSize`]: hash sizes under
//! 2 (imagehash's own check, applied here to all five, where imagehash skips it for
//! `dhash_vertical` and `whash`), whash sizes that are not powers of two (imagehash's assert),
//! and sizes over 16, which [`ImageHash`] does not hold. `phash` uses imagehash's default
//! `highfreq_factor=4`; `whash` its default `image_scale` and `mode='haar'`.

pub mod dct;
pub mod grey;
pub mod median;
pub mod pocketfft;
pub mod resample;
pub mod trig;
pub mod wavelet;

use crate::error::CallerError;
use crate::hash::{
    AverageHash, DifferenceHash, DifferenceVerticalHash, ImageHash, ImageHashKind, PerceptualHash,
    WaveletHash, IMAGEHASH_MAX_SIZE, IMAGEHASH_MIN_SIZE,
};
use crate::pixels::PixelView;

use grey::GreyImage;

/// imagehash's `highfreq_factor` default: the perceptual hash shrinks to 4 x hash_size.
pub const PHASH_HIGHFREQ_FACTOR: usize = 4;

fn check_size<A: ImageHashKind>(
    hash_size: u32,
    expected: &'static str,
) -> Result<usize, CallerError> {
    if (IMAGEHASH_MIN_SIZE..=IMAGEHASH_MAX_SIZE).contains(&hash_size) && A::supports(hash_size) {
        Ok(hash_size as usize)
    } else {
        Err(CallerError::UnsupportedHashSize {
            algorithm: A::NAME,
            expected,
            found: hash_size,
        })
    }
}

const ANY_SIZE: &str = "2 to 16";

/// One image's imagehash family: the grey image (`convert('L')`) is computed on first use
/// and shared by every hash asked of it, as it would be in Python if the caller converted once.
/// The free functions ([`average_hash`] and the rest) are this with a single hash.
pub struct ImageHasher<'a> {
    view: PixelView<'a>,
    grey: std::cell::OnceCell<GreyImage>,
    /// The 8 x 8 low DCT block of pHash (hash size 8), shared by pHash and the mirrored pHash:
    /// shrinking a large image is most of their cost.
    phash_low: std::cell::OnceCell<Vec<f64>>,
}

impl<'a> ImageHasher<'a> {
    pub fn new(view: &PixelView<'a>) -> Self {
        ImageHasher {
            view: *view,
            grey: std::cell::OnceCell::new(),
            phash_low: std::cell::OnceCell::new(),
        }
    }

    fn shrink(&self, width: usize, height: usize) -> GreyImage {
        let grey = self.grey.get_or_init(|| grey::to_grey(&self.view));
        resample::resize_lanczos(grey, width, height)
    }

    /// imagehash `average_hash(image, hash_size)`.
    pub fn average_hash(&self, hash_size: u32) -> Result<AverageHash, CallerError> {
        let size = check_size::<crate::hash::Average>(hash_size, ANY_SIZE)?;
        let small = self.shrink(size, size);
        let avg = median::mean_u8(&small.data);
        Ok(hash_from(
            size,
            small.data.iter().map(|&p| f64::from(p) > avg),
        ))
    }

    /// imagehash `dhash(image, hash_size)`: each row's pixels against their left neighbours.
    pub fn dhash(&self, hash_size: u32) -> Result<DifferenceHash, CallerError> {
        let size = check_size::<crate::hash::Difference>(hash_size, ANY_SIZE)?;
        let small = self.shrink(size + 1, size);
        let bits = (0..size).flat_map(|y| {
            let row = small.row(y);
            (0..size).map(move |x| row[x + 1] > row[x])
        });
        Ok(hash_from(size, bits))
    }

    /// imagehash `dhash_vertical(image, hash_size)`: each pixel against the one above.
    pub fn dhash_vertical(&self, hash_size: u32) -> Result<DifferenceVerticalHash, CallerError> {
        let size = check_size::<crate::hash::DifferenceVertical>(hash_size, ANY_SIZE)?;
        let small = self.shrink(size, size + 1);
        let bits = (0..size).flat_map(|y| {
            let (above, below) = (small.row(y), small.row(y + 1));
            (0..size).map(move |x| below[x] > above[x])
        });
        Ok(hash_from(size, bits))
    }

    /// imagehash `phash(image, hash_size)`: the low `hash_size` x `hash_size` DCT coefficients
    /// of the image shrunk to `4 hash_size` square, against their median.
    pub fn phash(&self, hash_size: u32) -> Result<PerceptualHash, CallerError> {
        let size = check_size::<crate::hash::Perceptual>(hash_size, ANY_SIZE)?;
        let computed;
        let low = if size == 8 {
            self.phash_low8()
        } else {
            computed = self.phash_low(size);
            &computed
        };
        let med = median::median_f64(low);
        Ok(hash_from(size, low.iter().map(|&v| v > med)))
    }

    /// pHash's low `size` x `size` DCT block of the image shrunk to `4 size` square.
    fn phash_low(&self, size: usize) -> Vec<f64> {
        let img_size = size * PHASH_HIGHFREQ_FACTOR;
        let small = self.shrink(img_size, img_size);
        dct::dct_2d_low(&small.data, img_size, size)
    }

    fn phash_low8(&self) -> &[f64] {
        self.phash_low.get_or_init(|| self.phash_low(8))
    }

    /// imagehash `phash(ImageOps.mirror(image), 8)`, from this image's DCT: mirroring the
    /// shrunk image left to right negates its coefficients of odd horizontal frequency
    /// (DCT-II: `X'[k] = (-1)^k X[k]` for `x'[n] = x[N-1-n]`), then the median is taken again.
    /// Pillow's Lanczos shrink of a mirrored image is the mirrored shrink up to rounding, so
    /// this equals imagehash on the mirrored image but for a bit now and then. A query's hash,
    /// matched against pHash entries (`phash-mirrored` in the registry).
    pub fn phash_mirrored(&self) -> PerceptualHash {
        let size = 8;
        let mut low = self.phash_low8().to_vec();
        for (i, v) in low.iter_mut().enumerate() {
            if (i % size) % 2 == 1 {
                *v = -*v;
            }
        }
        let med = median::median_f64(&low);
        hash_from(size, low.iter().map(|&v| v > med))
    }

    /// imagehash `whash(image, hash_size)` with its defaults: haar, `image_scale` the largest
    /// power of two not above the smaller side (at least `hash_size`), `remove_max_haar_ll=True`.
    pub fn whash(&self, hash_size: u32) -> Result<WaveletHash, CallerError> {
        let size = check_size::<crate::hash::Wavelet>(hash_size, "2, 4, 8 or 16")?;
        let smaller = self.view.width().min(self.view.height());
        // 2 ** int(log2(min(image.size))): log2 is exact or far from an integer at these sizes.
        let natural_scale = 1usize << (31 - smaller.leading_zeros());
        let image_scale = natural_scale.max(size);
        let ll_max_level = image_scale.trailing_zeros();
        let level = size.trailing_zeros();
        let small = self.shrink(image_scale, image_scale);
        let pixels = wavelet::Plane {
            size: image_scale,
            data: small.data.iter().map(|&p| f64::from(p) / 255.0).collect(),
        };
        let pixels = wavelet::remove_max_haar_ll(&pixels);
        let low = wavelet::haar_approximation(&pixels, ll_max_level - level);
        let med = median::median_f64(&low.data);
        Ok(hash_from(size, low.data.iter().map(|&v| v > med)))
    }
}

fn hash_from<A: ImageHashKind>(size: usize, bits: impl IntoIterator<Item = bool>) -> ImageHash<A> {
    // The callers produce exactly size² bits for a checked size.
    ImageHash::from_bits(size as u32, bits).expect("size² bits for a checked size")
}

/// imagehash `average_hash(image, hash_size)`.
pub fn average_hash(view: &PixelView<'_>, hash_size: u32) -> Result<AverageHash, CallerError> {
    ImageHasher::new(view).average_hash(hash_size)
}

/// imagehash `dhash(image, hash_size)`.
pub fn dhash(view: &PixelView<'_>, hash_size: u32) -> Result<DifferenceHash, CallerError> {
    ImageHasher::new(view).dhash(hash_size)
}

/// imagehash `dhash_vertical(image, hash_size)`.
pub fn dhash_vertical(
    view: &PixelView<'_>,
    hash_size: u32,
) -> Result<DifferenceVerticalHash, CallerError> {
    ImageHasher::new(view).dhash_vertical(hash_size)
}

/// imagehash `phash(image, hash_size)`.
pub fn phash(view: &PixelView<'_>, hash_size: u32) -> Result<PerceptualHash, CallerError> {
    ImageHasher::new(view).phash(hash_size)
}

/// imagehash `whash(image, hash_size)`.
pub fn whash(view: &PixelView<'_>, hash_size: u32) -> Result<WaveletHash, CallerError> {
    ImageHasher::new(view).whash(hash_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::PixelFormat;

    /// The mirrored pHash, from the image's DCT, equals pHash of the image mirrored in pixels.
    #[test]
    fn the_mirrored_phash_is_the_phash_of_the_mirrored_image() {
        let (w, h) = (97, 61);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * x / 5 + y * 7 + (x ^ y) % 23) % 256) as u8;
                rgb.extend([v, v / 2 + 40, 255 - v]);
            }
        }
        let mirrored: Vec<u8> = rgb
            .chunks_exact(w * 3)
            .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
            .collect();
        let view = PixelView::packed(&rgb, w as u32, h as u32, PixelFormat::Rgb8).unwrap();
        let mview = PixelView::packed(&mirrored, w as u32, h as u32, PixelFormat::Rgb8).unwrap();
        let ours = ImageHasher::new(&view).phash_mirrored();
        let plain = phash(&view, 8).unwrap();
        assert_eq!(ours, phash(&mview, 8).unwrap());
        assert_ne!(ours, plain, "the picture is not symmetric");
    }
}
