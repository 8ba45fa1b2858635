//! Record, exact and household tokens as the linkage party sees them: 128 opaque bits.
//!
//! Holders make tokens with keyed HMACs in the `kith` crate; this crate only carries and prints them,
//! so nothing here can make or test a token.

/// Length of record, exact and household tokens in bytes (128 bits).
pub const TOKEN_BYTES: usize = 16;

/// A 128-bit keyed token (record token, exact-match token or household token).
pub type Token = [u8; TOKEN_BYTES];

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(bytes, &mut s);
    s
}

/// Append `bytes` as lower-case hexadecimal to `out`.
pub fn push_hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// A 128-bit token from its 32 hexadecimal digits (as encodings and results files write it).
pub fn parse_token(s: &str) -> Option<Token> {
    // `from_str_radix` alone would also take a sign ("+f").
    if s.len() != 2 * TOKEN_BYTES || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut t = [0u8; TOKEN_BYTES];
    for (i, byte) in t.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hex_round_trips_through_parse_token(t in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let h = hex(&t);
            prop_assert_eq!(h.len(), 32);
            prop_assert!(h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            prop_assert_eq!(parse_token(&h), Some(t));
        }
    }

    #[test]
    fn parse_token_refuses_wrong_lengths_and_digits() {
        assert_eq!(parse_token(""), None);
        assert_eq!(parse_token(&"0".repeat(31)), None);
        assert_eq!(parse_token(&"0".repeat(33)), None);
        assert_eq!(parse_token(&format!("{}g", "0".repeat(31))), None);
        assert_eq!(parse_token(&format!("+{}", "0".repeat(31))), None);
    }
}
