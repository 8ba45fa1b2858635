//! The CLI's integration tests: one test binary (as ripgrep and uv do), with a fixtures helper in
//! `util`. Each test runs the real `kith` binary in its own temporary folder.

mod audit;
mod encode;
mod errors;
mod errors_people_make;
mod explain;
mod families;
mod fuzz;
mod keygen;
mod link;
mod manifest;
mod patterns;
mod pipeline;
mod profile;
mod report;
mod synth;
mod util;
