//! Digests of the original bytes against the published test vectors: RFC 1321 (MD5),
//! FIPS 180 / RFC 3174 and RFC 6234 (SHA-1, SHA-256).

use pixelprint::{md5_hex, sha1_hex, sha256_hex, DigestStream, Digests};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// (message, MD5, SHA-1, SHA-256)
const VECTORS: &[(&str, &str, &str, &str)] = &[
    (
        "",
        "d41d8cd98f00b204e9800998ecf8427e",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "abc",
        "900150983cd24fb0d6963f7d28e17f72",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "8215ef0796a20bcaaae116d3876c664a",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (
        "message digest",
        "f96b697d7cb7938d525a2f31aaf161d0",
        "c12252ceda8be8994d5fa0290a47231c1d16aae3",
        "f7846f55cf23e14eebeab5b4e1550cad5b509e3348fbc4efa3a1413d393cb650",
    ),
];

#[test]
fn digests_match_the_published_test_vectors() {
    for (message, md5, sha1, sha256) in VECTORS {
        let bytes = message.as_bytes();
        assert_eq!(md5_hex(bytes), *md5, "md5({message:?})");
        assert_eq!(sha1_hex(bytes), *sha1, "sha1({message:?})");
        assert_eq!(sha256_hex(bytes), *sha256, "sha256({message:?})");
        let all = Digests::of(bytes);
        assert_eq!(
            (all.md5.as_str(), all.sha1.as_str(), all.sha256.as_str()),
            (*md5, *sha1, *sha256)
        );
    }
}

#[test]
fn digests_of_a_million_a_match_the_published_values() {
    let bytes = vec![b'a'; 1_000_000];
    assert_eq!(md5_hex(&bytes), "7707d6ae4e027c70eea2a935c2296f21");
    assert_eq!(sha1_hex(&bytes), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    assert_eq!(
        sha256_hex(&bytes),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

#[test]
fn a_million_a_in_uneven_pieces_streams_to_the_published_values() {
    let mut stream = DigestStream::new();
    let mut left = 1_000_000usize;
    for piece in [0usize, 1, 63, 64, 65, 4095, 65_536].iter().cycle() {
        let n = (*piece).min(left);
        stream.update(&vec![b'a'; n]);
        left -= n;
        if left == 0 {
            break;
        }
    }
    let all = stream.finish();
    assert_eq!(all.md5, "7707d6ae4e027c70eea2a935c2296f21");
    assert_eq!(all.sha1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    assert_eq!(
        all.sha256,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}
