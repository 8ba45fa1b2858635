//! NHS numbers: ten digits whose last is the modulus-11 check digit of the first nine.

use rand::{Rng, RngExt};

/// The check digit of nine digits, or `None` when the remainder makes no valid number.
pub(crate) fn check_digit(nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * (10 - i as u32))
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// A valid NHS number as ten digits (England's numbers begin 4 to 6).
pub(crate) fn number<R: Rng + ?Sized>(rng: &mut R) -> String {
    loop {
        let mut nine = [0u8; 9];
        nine[0] = rng.random_range(4..=6);
        for d in &mut nine[1..] {
            *d = rng.random_range(0..10);
        }
        if nine.iter().all(|&d| d == nine[0]) {
            continue;
        }
        if let Some(c) = check_digit(&nine) {
            return nine
                .iter()
                .chain(std::iter::once(&c))
                .map(|d| char::from(b'0' + d))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn known_numbers_check_and_generated_ones_are_valid() {
        // 943 476 5919 is the NHS's own example of a valid number.
        assert_eq!(check_digit(&[9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..1000 {
            let n = number(&mut rng);
            let d: Vec<u8> = n.bytes().map(|b| b - b'0').collect();
            assert_eq!(d.len(), 10);
            let nine: [u8; 9] = d[..9].try_into().expect("nine digits");
            assert_eq!(check_digit(&nine), Some(d[9]), "{n}");
        }
    }
}
