//! Helpers of the unit tests.

/// Marsaglia's xorshift32 (13, 17, 5) from a non-zero `seed`: a fixed, cheap stream of test
/// inputs, the same on every run and target.
pub fn xorshift32(mut state: u32) -> impl FnMut() -> u32 {
    move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    }
}

/// Marsaglia's xorshift64 (13, 7, 17) from a non-zero `seed`.
pub fn xorshift64(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
