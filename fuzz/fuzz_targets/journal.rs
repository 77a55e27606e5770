//! Any bytes as `.kneo-otel/journal`: parsing either yields a journal or an error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kneo_otel::write::parse_journal(data);
});
