use super::Eal;
use stack::Instant;

/// The CPU's time-stamp counter as the engine's clock: read once per poll loop, converted to
/// microseconds since the clock was made with a multiply and a shift (no division).
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    hz: u64,
    origin: u64,
    /// Microseconds per cycle in 32.32 fixed point.
    us_per_cycle_fp32: u64,
}

impl TscClock {
    pub fn new(_eal: &Eal) -> Self {
        // SAFETY: EAL is initialised (the argument proves it), which calibrates the TSC.
        let hz = unsafe { dpdk_sys::rte_get_tsc_hz() }.max(1);
        TscClock {
            hz,
            origin: Self::rdtsc(),
            us_per_cycle_fp32: ((1_000_000u128 << 32) / hz as u128) as u64,
        }
    }

    /// Raw TSC cycles.
    #[inline]
    pub fn rdtsc() -> u64 {
        // SAFETY: rdtsc has no preconditions.
        unsafe { dpdk_sys::tcpterm_rdtsc() }
    }

    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Microseconds since the clock was created.
    #[inline]
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.cycles_to_micros(Self::rdtsc().wrapping_sub(self.origin)))
    }

    #[inline]
    pub fn cycles_to_micros(&self, cycles: u64) -> u64 {
        ((cycles as u128 * self.us_per_cycle_fp32 as u128) >> 32) as u64
    }
}
