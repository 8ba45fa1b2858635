//! Addresses: UK postcodes of valid shape in real postcode areas, streets of several households
//! under one postcode (neighbours), and blocks of flats (one building, one postcode).

use rand::{Rng, RngExt};

/// Postcode areas, with the highest district number used here.
const AREAS: &[(&str, u8)] = &[
    ("B", 40),
    ("BB", 12),
    ("BD", 24),
    ("BL", 9),
    ("BN", 27),
    ("BS", 41),
    ("CA", 28),
    ("CF", 48),
    ("CH", 66),
    ("CV", 47),
    ("DE", 75),
    ("DH", 9),
    ("DN", 41),
    ("E", 18),
    ("G", 84),
    ("HD", 9),
    ("HU", 20),
    ("HX", 7),
    ("L", 40),
    ("LA", 23),
    ("LE", 19),
    ("LS", 29),
    ("M", 50),
    ("N", 22),
    ("NE", 71),
    ("NG", 34),
    ("NW", 11),
    ("OL", 16),
    ("PR", 26),
    ("S", 81),
    ("SE", 28),
    ("SK", 23),
    ("SW", 20),
    ("W", 14),
    ("WF", 17),
    ("WN", 8),
    ("YO", 62),
];

/// Letters an inward code may end with (no C, I, K, M, O or V).
const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Church Lane",
    "Mill Lane",
    "Park Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Queens Road",
    "New Street",
    "Kings Road",
    "School Lane",
    "North Street",
    "Albert Road",
    "Grange Road",
    "Oak Avenue",
    "Chapel Street",
    "Springfield Road",
    "Westfield Avenue",
    "Beech Grove",
];

/// One postcode unit: a street's stretch, or a block of flats.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) postcode: String,
    street: &'static str,
    flats: bool,
    next: u32,
}

/// A fresh postcode unit in a random area.
pub(crate) fn unit<R: Rng + ?Sized>(rng: &mut R) -> Unit {
    let (area, max) = AREAS[rng.random_range(0..AREAS.len())];
    let district = rng.random_range(1..=max);
    let sector = rng.random_range(0..10);
    let a = INWARD[rng.random_range(0..INWARD.len())] as char;
    let b = INWARD[rng.random_range(0..INWARD.len())] as char;
    Unit {
        postcode: format!("{area}{district} {sector}{a}{b}"),
        street: STREETS[rng.random_range(0..STREETS.len())],
        flats: rng.random_bool(0.2),
        next: rng.random_range(1..40),
    }
}

impl Unit {
    /// The next household's address in this unit: the next house on the street, or the next
    /// flat in the block.
    pub(crate) fn address(&mut self) -> String {
        let n = self.next;
        self.next += if self.flats { 1 } else { 2 };
        if self.flats {
            format!(
                "Flat {n}, {} House, {}",
                &self.street[..self.street.find(' ').unwrap_or(self.street.len())],
                self.street
            )
        } else {
            format!("{n} {}", self.street)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn postcodes_have_a_valid_shape_and_units_hold_several_addresses() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let mut u = unit(&mut rng);
            let (out, inw) = u.postcode.split_once(' ').expect("one space");
            assert!((2..=4).contains(&out.len()), "{}", u.postcode);
            assert!(out.as_bytes()[0].is_ascii_uppercase());
            assert!(inw.len() == 3 && inw.as_bytes()[0].is_ascii_digit());
            assert!(inw.bytes().skip(1).all(|c| INWARD.contains(&c)));
            let (a, b) = (u.address(), u.address());
            assert_ne!(a, b, "two households of one unit have two addresses");
        }
    }
}
