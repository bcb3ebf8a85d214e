//! The integration test suite: one binary, run natively by `cargo test` and in wasm (Node and
//! headless Chromium) by wasm-bindgen-test with the same embedded vectors.

mod pdq;
mod vectors;

/// Which environment the suite runs in, for the vector counts it prints.
pub fn environment() -> &'static str {
    if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    }
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
