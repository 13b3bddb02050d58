//! Random bytes from the host's CSPRNG (`barbacane:core`, always granted):
//! `wasm32-unknown-unknown` has no entropy source of its own.

use crate::host;

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    host::random(buf)
}

/// A random version 4 UUID in its hyphenated lowercase form.
///
/// ```
/// # let _host = barbacane_plugin_sdk::testing::FakeHost::new();
/// let id = barbacane_plugin_sdk::random::uuid_v4();
/// assert_eq!(id.len(), 36);
/// assert_eq!(&id[14..15], "4");
/// ```
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written digit by digit into one buffer: formatting each byte with `format!` costs an
    // allocation per byte, which shows up in a plugin's per-request cost.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}
