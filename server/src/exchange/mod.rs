//! Hash exchanges that pixelprint serves: the accepted tips' hashes, offered to platforms in an
//! exchange's own wire format. [`stopncii`]: StopNCII.org's hash API (its types and the mapping
//! from pixelprint's algorithms to its signal types); the routes are in `crate::http::exchange`.

pub mod stopncii;
