//! Toeplitz hash for RSS, with the symmetric key (0x6d5a repeated) so both directions of a flow
//! hash to the same queue.

use super::Ipv4Addr;

/// 40-byte key whose every 16-bit half repeats, making the hash symmetric in (src, dst).
pub const SYMMETRIC_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
];

/// The 32 key bits starting at bit `pos` (bit 0 = MSB of key[0]); bits past the key are 0.
#[inline]
fn key_window(key: &[u8], pos: usize) -> u32 {
    let byte = pos / 8;
    let mut w: u64 = 0;
    for i in 0..5 {
        w = (w << 8) | *key.get(byte + i).unwrap_or(&0) as u64;
    }
    (w >> (8 - pos % 8)) as u32
}

/// Reference bit-by-bit Toeplitz hash of `input` under `key` (key must be >= input.len() + 4).
/// A shorter key behaves as if padded with zero bytes.
pub fn hash(key: &[u8], input: &[u8]) -> u32 {
    let mut result = 0u32;
    for (i, &byte) in input.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                result ^= key_window(key, i * 8 + bit);
            }
        }
    }
    result
}

/// Bytes of the IPv4/TCP RSS input: src ip, dst ip, src port, dst port.
const TUPLE_LEN: usize = 12;

/// Precomputed tables for the 12-byte IPv4/TCP input; same result as `hash`, much faster.
pub struct Toeplitz {
    table: Box<[[u32; 256]; 12]>,
}

impl Toeplitz {
    pub fn new(key: &[u8; 40]) -> Self {
        // The hash is linear over GF(2), so each input byte contributes independently:
        // table[i][v] is the hash of a tuple that is zero except for byte i = v.
        let mut table = Box::new([[0u32; 256]; TUPLE_LEN]);
        for (i, row) in table.iter_mut().enumerate() {
            let bits: [u32; 8] = core::array::from_fn(|b| key_window(key, i * 8 + b));
            for (v, slot) in row.iter_mut().enumerate() {
                *slot = (0..8)
                    .filter(|b| v & (0x80 >> b) != 0)
                    .fold(0, |acc, b| acc ^ bits[b]);
            }
        }
        Toeplitz { table }
    }
    /// Hash of (src ip, dst ip, src port, dst port) as the NIC computes it for IPv4/TCP.
    #[inline]
    pub fn hash_ipv4_tcp(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u32 {
        let s = src.octets();
        let d = dst.octets();
        let sp = sport.to_be_bytes();
        let dp = dport.to_be_bytes();
        let input = [
            s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], sp[0], sp[1], dp[0], dp[1],
        ];
        let mut h = 0;
        for (row, &b) in self.table.iter().zip(input.iter()) {
            h ^= row[b as usize];
        }
        h
    }
}

/// The queue a NIC with a `reta_size`-entry round-robin redirection table picks for `hash`.
pub fn queue_for(hash: u32, reta_size: u32, queues: u16) -> u16 {
    ((hash % reta_size) % queues as u32) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The default key of the Microsoft RSS verification suite.
    const MS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// (src ip, src port, dst ip, dst port, IPv4-only hash, IPv4/TCP hash) from the
    /// "Verifying the RSS Hash Calculation" table (Microsoft RSS documentation).
    type Vector = ([u8; 4], u16, [u8; 4], u16, u32, u32);
    const MS_VECTORS: [Vector; 5] = [
        (
            [66, 9, 149, 187],
            2794,
            [161, 142, 100, 80],
            1766,
            0x323e_8fc2,
            0x51cc_c178,
        ),
        (
            [199, 92, 111, 2],
            14230,
            [65, 69, 140, 83],
            4739,
            0xd718_262a,
            0xc626_b0ea,
        ),
        (
            [24, 19, 198, 95],
            12898,
            [12, 22, 207, 184],
            38024,
            0xd2d0_a5de,
            0x5c2b_394a,
        ),
        (
            [38, 27, 205, 30],
            48228,
            [209, 142, 163, 6],
            2217,
            0x8298_9176,
            0xafc7_327f,
        ),
        (
            [153, 39, 163, 191],
            44251,
            [202, 188, 127, 2],
            1303,
            0x5d18_09c5,
            0x10e8_28a2,
        ),
    ];

    fn tuple(s: [u8; 4], d: [u8; 4], sp: u16, dp: u16) -> [u8; 12] {
        let mut t = [0u8; 12];
        t[..4].copy_from_slice(&s);
        t[4..8].copy_from_slice(&d);
        t[8..10].copy_from_slice(&sp.to_be_bytes());
        t[10..].copy_from_slice(&dp.to_be_bytes());
        t
    }

    #[test]
    fn microsoft_rss_verification_vectors_ipv4_only() {
        for (s, _, d, _, want, _) in MS_VECTORS {
            let mut input = [0u8; 8];
            input[..4].copy_from_slice(&s);
            input[4..].copy_from_slice(&d);
            assert_eq!(hash(&MS_KEY, &input), want, "{s:?} -> {d:?}");
        }
    }

    #[test]
    fn microsoft_rss_verification_vectors_ipv4_tcp() {
        let t = Toeplitz::new(&MS_KEY);
        for (s, sp, d, dp, _, want) in MS_VECTORS {
            assert_eq!(hash(&MS_KEY, &tuple(s, d, sp, dp)), want, "reference {s:?}");
            assert_eq!(
                t.hash_ipv4_tcp(Ipv4Addr::from(s), Ipv4Addr::from(d), sp, dp),
                want,
                "table {s:?}"
            );
        }
    }

    #[test]
    fn zero_input_hashes_to_zero_and_single_bit_selects_key_window() {
        assert_eq!(hash(&MS_KEY, &[0; 12]), 0);
        // The first input bit selects key bits 0..32; the ninth selects bits 8..40.
        assert_eq!(hash(&MS_KEY, &[0x80]), 0x6d5a_56da);
        assert_eq!(hash(&MS_KEY, &[0x00, 0x80]), 0x5a56_da25);
        // The eighth selects bits 7..39: 0x6d5a56da25 >> 1, low 32 bits.
        assert_eq!(hash(&MS_KEY, &[0x01]), 0xad2b_6d12);
    }

    #[test]
    fn queue_for_follows_round_robin_reta() {
        assert_eq!(
            queue_for(0x51cc_c178, 128, 4),
            ((0x51cc_c178u32 % 128) % 4) as u16
        );
        assert_eq!(queue_for(130, 128, 4), 2);
    }

    proptest! {
        #[test]
        fn table_matches_reference(key in proptest::collection::vec(any::<u8>(), 40), s in any::<u32>(), d in any::<u32>(), sp in any::<u16>(), dp in any::<u16>()) {
            let key: [u8; 40] = key.try_into().unwrap();
            let t = Toeplitz::new(&key);
            let want = hash(&key, &tuple(s.to_be_bytes(), d.to_be_bytes(), sp, dp));
            prop_assert_eq!(t.hash_ipv4_tcp(Ipv4Addr::from_bits(s), Ipv4Addr::from_bits(d), sp, dp), want);
        }

        #[test]
        fn symmetric_key_hashes_both_directions_alike(s in any::<u32>(), d in any::<u32>(), sp in any::<u16>(), dp in any::<u16>()) {
            let t = Toeplitz::new(&SYMMETRIC_KEY);
            let (a, b) = (Ipv4Addr::from_bits(s), Ipv4Addr::from_bits(d));
            prop_assert_eq!(t.hash_ipv4_tcp(a, b, sp, dp), t.hash_ipv4_tcp(b, a, dp, sp));
        }
    }
}
