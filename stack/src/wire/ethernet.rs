//! Ethernet II frames (no VLAN tags: tagged frames are `Unsupported`).

use super::{MacAddr, WireError};

pub const HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// Checked view over an Ethernet II frame.
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Fails with `Truncated` when shorter than the header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }
    #[inline]
    fn header(&self) -> &[u8; HEADER_LEN] {
        // new_checked guarantees the length, so this never fails.
        self.buffer.as_ref()[..HEADER_LEN]
            .try_into()
            .unwrap_or(&[0; HEADER_LEN])
    }
    #[inline]
    pub fn dst(&self) -> MacAddr {
        let h = self.header();
        MacAddr([h[0], h[1], h[2], h[3], h[4], h[5]])
    }
    #[inline]
    pub fn src(&self) -> MacAddr {
        let h = self.header();
        MacAddr([h[6], h[7], h[8], h[9], h[10], h[11]])
    }
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let h = self.header();
        u16::from_be_bytes([h[12], h[13]])
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self, WireError> {
        Ok(EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            ethertype: frame.ethertype(),
        })
    }
    /// Writes the 14-byte header into `buf[..HEADER_LEN]`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&self.dst.0);
        buf[6..12].copy_from_slice(&self.src.0);
        buf[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0xaa,
        0xbb,
    ];

    #[test]
    fn parses_header_fields_and_payload() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst(), MacAddr::BROADCAST);
        assert_eq!(f.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.ethertype(), ETHERTYPE_ARP);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn shorter_than_header_is_truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).err(),
            Some(WireError::Truncated)
        );
        assert!(EthernetFrame::new_checked(&FRAME[..14])
            .unwrap()
            .payload()
            .is_empty());
    }

    #[test]
    fn emit_writes_exact_bytes() {
        let repr = EthernetRepr::parse(&EthernetFrame::new_checked(&FRAME[..]).unwrap()).unwrap();
        let mut out = [0u8; HEADER_LEN];
        repr.emit(&mut out);
        assert_eq!(out, FRAME[..HEADER_LEN]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(f) = EthernetFrame::new_checked(&data[..]) {
                let r = EthernetRepr::parse(&f).unwrap();
                prop_assert_eq!(f.payload().len(), data.len() - HEADER_LEN);
                let mut out = [0u8; HEADER_LEN];
                r.emit(&mut out);
                prop_assert_eq!(&out[..], &data[..HEADER_LEN]);
            } else {
                prop_assert!(data.len() < HEADER_LEN);
            }
        }
    }
}
