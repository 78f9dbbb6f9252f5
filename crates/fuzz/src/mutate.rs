//! Mutations of seed inputs, the way coverage-free fuzzers make them: bit flips, interesting
//! numbers written over header fields (both byte orders), insertions, deletions, duplications,
//! truncations, splices with another seed, and for text formats tokens of the formats' syntax.

/// A small xorshift generator, seeded per input so that every input can be made again.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Numbers that break size and count fields.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Pieces of TOML, JSON and YAML syntax and values that parsers mishandle.
const TOKENS: [&str; 24] = [
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    ":",
    "\n",
    "- ",
    "[[",
    "]]",
    "-1",
    "0",
    "1e309",
    "nan",
    "inf",
    "-0.0",
    "18446744073709551616",
    "4294967296",
    "true",
    "null",
    "\"\\u0000\"",
    "#",
];

/// An input made from `seeds[..]` by one to eight mutations drawn from `rng`; `text` adds
/// token insertions.
pub fn mutate(seeds: &[Vec<u8>], rng: &mut Rng, text: bool) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(if text { 9 } else { 8 }) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 4 => {
                // A 4- or 8-byte field, little- or big-endian.
                let width = if rng.below(2) == 0 { 4 } else { 8 }.min(len);
                let at = rng.below(len - width + 1);
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                let field = if rng.below(2) == 0 {
                    &bytes[..width]
                } else {
                    &bytes[8 - width..]
                };
                data[at..at + width].copy_from_slice(field);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                data.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let copy = data[at..at + n].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, copy);
            }
            6 if len > 0 => data.truncate(rng.below(len)),
            7 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let at = rng.below(len + 1);
                    data.truncate(at);
                    data.extend_from_slice(&other[from..]);
                }
            }
            8 => {
                let at = rng.below(len + 1);
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            _ => {}
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_made_again_from_their_seed() {
        let seeds = vec![
            b"space = \"fmnist\"\n".to_vec(),
            vec![0, 0, 8, 3, 0, 0, 0, 2],
        ];
        let make = |s| mutate(&seeds, &mut Rng::new(s), true);
        assert_eq!(make(5), make(5));
        let distinct: std::collections::HashSet<Vec<u8>> = (0..200).map(make).collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
    }
}
