//! The integration test suite: one binary, run natively by `cargo test` and in wasm (Node and
//! headless Chromium) by wasm-bindgen-test with the same embedded vectors.

/// The library's vector kernels against their portable forms (`src/arch/tests.rs`), compiled
/// here from the library's source: the unit tests run natively only, and this way the wasm
/// runs test the simd128 kernels too. Its intrinsics are `unsafe`, allowed here as in the library.
#[path = "../../src/arch/mod.rs"]
#[allow(unsafe_code)]
mod arch;
mod decode;
mod digest;
#[cfg(not(target_arch = "wasm32"))]
mod fuzz_corpus;
mod imagehash;
#[cfg(not(target_arch = "wasm32"))]
mod index;
mod pdq;
#[cfg(not(target_arch = "wasm32"))]
mod properties;
mod vectors;
mod video;
#[cfg(not(target_arch = "wasm32"))]
mod yuv;

/// Which environment the suite runs in, for the vector counts it prints: `native`, or for
/// wasm the JS host as it names itself (Node's version, or the browser's user agent).
pub fn environment() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        use js_sys::Reflect;
        let global = js_sys::global();
        let get = |obj: &wasm_bindgen::JsValue, key: &str| {
            Reflect::get(obj, &key.into())
                .ok()
                .filter(|v| !v.is_undefined())
        };
        if let Some(node) = get(&global, "process")
            .and_then(|p| get(&p, "versions"))
            .and_then(|v| get(&v, "node"))
        {
            return format!("wasm32 in Node {}", node.as_string().unwrap_or_default());
        }
        if let Some(agent) = get(&global, "navigator").and_then(|n| get(&n, "userAgent")) {
            let agent = agent.as_string().unwrap_or_default();
            let browser = agent
                .split_whitespace()
                .find(|w| w.contains("Chrome/"))
                .unwrap_or(&agent);
            return format!("wasm32 in {browser}");
        }
        "wasm32 in an unknown host".to_string()
    }
    #[cfg(not(target_arch = "wasm32"))]
    "native".to_string()
}

/// Prints a line that survives the harness's output capture in every environment.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!("{}", line);
        #[cfg(not(target_arch = "wasm32"))]
        println!("{}", line);
    }};
}
