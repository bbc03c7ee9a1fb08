//! The Internet checksum (RFC 1071), with the TCP/IPv4 pseudo-header.

use core::net::Ipv4Addr;

/// Adds `data` as big-endian 16-bit words to `sum` (not folded). Odd trailing byte padded.
///
/// The result is only partially folded (it fits in 17 bits), so callers can keep adding sums
/// and pseudo-headers into it without overflowing the `u32`.
#[inline]
pub fn sum(data: &[u8], sum: u32) -> u32 {
    // 8 bytes per step, read in native byte order and added as two u32 halves into a u64: no
    // carries to propagate (2^32 steps cannot overflow), no byte swaps, and the loop
    // vectorizes. Since 2^16 ≡ 2^32 ≡ 1 (mod 2^16 - 1), the u32 halves sum to the same folded
    // value as the 16-bit words; and the one's-complement sum of byte-swapped words is the
    // byte-swapped sum (RFC 1071 §2(B)), so one swap after folding fixes the byte order.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (v & 0xffff_ffff) + (v >> 32);
    }
    let mut total = u16::from_be(fold64(acc)) as u64 + sum as u64;
    // The < 8-byte tail is read big-endian, so word boundaries stay aligned with the 16-bit
    // words of the whole buffer (and an odd last byte is the high half of its word).
    let rest = chunks.remainder();
    let mut i = 0;
    if rest.len() >= 4 {
        total += u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        i = 4;
    }
    if rest.len() >= i + 2 {
        total += u16::from_be_bytes([rest[i], rest[i + 1]]) as u64;
        i += 2;
    }
    if let Some(&last) = rest.get(i) {
        total += (last as u64) << 8;
    }
    // At most 2^32 + small: two folds bring it under 2^17.
    total = (total >> 32) + (total & 0xffff_ffff);
    total = (total >> 16) + (total & 0xffff);
    total = (total >> 16) + (total & 0xffff);
    total as u32
}

/// End-around-carry fold of a 64-bit one's-complement accumulator to 16 bits.
#[inline]
fn fold64(mut t: u64) -> u16 {
    t = (t >> 32) + (t & 0xffff_ffff);
    t = (t >> 32) + (t & 0xffff_ffff);
    t = (t >> 16) + (t & 0xffff);
    t = (t >> 16) + (t & 0xffff);
    t as u16
}

/// Folds a 32-bit accumulator into 16 bits (end-around carry). Not complemented.
#[inline]
pub fn fold(sum: u32) -> u16 {
    let s = (sum >> 16) + (sum & 0xffff);
    let s = (s >> 16) + (s & 0xffff);
    s as u16
}

/// `!fold(sum(data, 0))`: the value to store in a checksum field over `data`.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Unfolded sum of the TCP/UDP pseudo-header (src, dst, zero, protocol, length).
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let s = src.to_bits();
    let d = dst.to_bits();
    (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + protocol as u32 + length as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straightforward 16-bit-at-a-time RFC 1071 §4.1 loop, to check the wide version against.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            s += u16::from_be_bytes([data[i], data[i + 1]]) as u32;
            i += 2;
        }
        if i < data.len() {
            s += (data[i] as u32) << 8;
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn rfc1071_section_3_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum (one's complement) to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_trailing_byte_is_high_half_of_a_padded_word() {
        assert_eq!(fold(sum(&[0xab], 0)), 0xab00);
        assert_eq!(fold(sum(&[0x00, 0x01, 0xab], 0)), 0xab01);
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // Classic example header (Wikipedia "IPv4 header checksum"): checksum b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(fold(sum(&h, 0)), 0xffff);
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn all_zero_data_sums_to_zero_and_checksums_to_ffff() {
        assert_eq!(fold(sum(&[0u8; 37], 0)), 0);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn all_ones_data_folds_to_ffff_not_zero() {
        assert_eq!(fold(sum(&[0xff; 64], 0)), 0xffff);
        assert_eq!(fold(sum(&[0xff; 2], 0)), 0xffff);
    }

    #[test]
    fn pseudo_header_sum_matches_bytes() {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let dst = Ipv4Addr::new(198, 19, 255, 254);
        let bytes = [198, 18, 0, 1, 198, 19, 255, 254, 0, 6, 0x05, 0xdc];
        assert_eq!(fold(pseudo_header(src, dst, 6, 1500)), fold(sum(&bytes, 0)));
    }

    proptest! {
        #[test]
        fn wide_sum_equals_naive_16_bit_sum(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(fold(sum(&data, 0)), naive_sum(&data));
        }

        /// Long runs of 0xff exercise every carry and fold step.
        #[test]
        fn wide_sum_equals_naive_on_saturated_data(len in 0usize..3000, tweak in any::<u8>()) {
            let mut data = vec![0xffu8; len];
            if let Some(b) = data.last_mut() {
                *b = tweak;
            }
            prop_assert_eq!(fold(sum(&data, u32::MAX)), fold(naive_sum(&data) as u32 + fold(u32::MAX) as u32));
        }

        #[test]
        fn sum_chains_over_even_splits(data in proptest::collection::vec(any::<u8>(), 0..300), split in 0usize..300, init in any::<u32>()) {
            let split = (split.min(data.len())) & !1;
            let chained = sum(&data[split..], sum(&data[..split], init));
            let whole = sum(&data, init);
            prop_assert_eq!(fold(chained), fold(whole));
        }
    }
}
