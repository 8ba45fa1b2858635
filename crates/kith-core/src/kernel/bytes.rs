//! The CSV reader's search for a line's commas.

/// Append `base + i` to `out` for every `i` at which `haystack[i] == needle`, in order: the CSV
/// reader's commas of a line. On x86-64, sixteen bytes are compared at a time with SSE2 (part of
/// every x86-64 CPU) and the matches read off a bit mask, rather than starting a new `memchr`
/// search after each match.
#[inline]
pub fn byte_positions(haystack: &[u8], needle: u8, base: usize, out: &mut Vec<usize>) {
    #[cfg(target_arch = "x86_64")]
    super::x86::byte_positions_sse2(haystack, needle, base, out);
    #[cfg(not(target_arch = "x86_64"))]
    byte_positions_portable(haystack, needle, base, out);
}

/// [`byte_positions`] a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(super) fn byte_positions_portable(
    haystack: &[u8],
    needle: u8,
    base: usize,
    out: &mut Vec<usize>,
) {
    out.extend(
        haystack
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == needle)
            .map(|(i, _)| base + i),
    );
}
