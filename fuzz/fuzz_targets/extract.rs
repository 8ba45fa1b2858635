//! Fuzz target: `kith::fuzzing::extract` on arbitrary bytes (see `fuzz/run.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kith::fuzzing::extract(data);
});
