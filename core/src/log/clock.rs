//! Wall-clock milliseconds for the timestamps `send` gives records that have none (CreateTime,
//! read once per record as Kafka's `KafkaProducer.doSend` reads `time.milliseconds()`).
//!
//! A full read of the wall clock (`SystemTime::now`, the vDSO's `clock_gettime`) costs about
//! 40 ns on the 2-vCPU KVM guest the benchmarks run on, a tenth of the CPU of a thread sending
//! 1 KiB records. Within one millisecond every read gives the same value, so on x86-64 each
//! thread keeps its last full read and the time-stamp counter (TSC) value up to which that
//! millisecond has certainly not ended, and answers from it while the counter is below that
//! value: the answer is exactly what a full read would give, not an approximation.
//!
//! Why it is exact: a full read happens between two counter reads `t0` and `t1` and returns
//! wall time `w` (ns). At a later counter value `t >= t1` the wall time is at most
//! `w + (t - t0) / f` for a counter running at `f` ticks per ns, so it is still inside the
//! millisecond of `w` while `t - t0 < (1 ms - w mod 1 ms) · f`; using a lower bound of `f`
//! (nine tenths of the rate measured against the monotonic clock over at least 2 ms) keeps the
//! deadline early. It relies on a counter that runs at a constant rate and agrees between CPUs;
//! the cache is used only when the CPU reports an invariant TSC and the kernel itself uses the
//! TSC as its clock source (`/sys/devices/system/clocksource/clocksource0/current_clocksource`),
//! i.e. when the vDSO's own `clock_gettime` reads the same counter. Otherwise, and on other
//! architectures, every call is a full read. A step of the wall clock (NTP, `settimeofday`) is
//! seen at the next full read, at most one millisecond later.

/// Milliseconds since the Unix epoch, as `crate::util::now_ms`.
#[inline]
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        tsc::now_ms()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        crate::util::now_ms()
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod tsc {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    thread_local! {
        /// `(t1, deadline, ms)` of this thread's last full read: the answer is `ms` while
        /// `t1 <= counter < deadline`.
        static LAST: Cell<(u64, u64, i64)> = const { Cell::new((u64::MAX, 0, 0)) };
        /// Full reads made by this thread (for the tests).
        static FULL_READS: Cell<u64> = const { Cell::new(0) };
    }

    /// Lower bound of the counter's ticks per ns as `f64` bits; 0 while not yet measured,
    /// `UNUSABLE` when the counter must not be used.
    static RATE: AtomicU64 = AtomicU64::new(0);
    const UNUSABLE: u64 = u64::MAX;
    /// Counter, monotonic clock and counter again, at the first full read.
    static START: OnceLock<(u64, Instant, u64)> = OnceLock::new();

    #[inline]
    fn counter() -> u64 {
        // SAFETY: RDTSC is present on every x86-64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[inline]
    pub(super) fn now_ms() -> i64 {
        let t = counter();
        let (t1, deadline, ms) = LAST.get();
        if t >= t1 && t < deadline {
            return ms;
        }
        full_read()
    }

    #[cold]
    fn full_read() -> i64 {
        FULL_READS.set(FULL_READS.get() + 1);
        let t0 = counter();
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        let t1 = counter();
        let Ok(d) = now else {
            return 0;
        };
        let ms = d.as_millis() as i64;
        if let Some(rate) = rate() {
            let left_ns = 1_000_000 - u64::from(d.subsec_nanos() % 1_000_000);
            let deadline = t0.saturating_add((left_ns as f64 * rate) as u64);
            LAST.set((t1, deadline, ms));
        }
        ms
    }

    /// The counter's rate (lower bound, ticks per ns), once it is known and usable.
    fn rate() -> Option<f64> {
        match RATE.load(Ordering::Relaxed) {
            UNUSABLE => return None,
            0 => {}
            bits => return Some(f64::from_bits(bits)),
        }
        let start = START.get_or_init(|| {
            if !usable() {
                RATE.store(UNUSABLE, Ordering::Relaxed);
            }
            let a = counter();
            let i = Instant::now();
            (a, i, counter())
        });
        if RATE.load(Ordering::Relaxed) == UNUSABLE {
            return None;
        }
        let before = counter();
        let elapsed = start.1.elapsed().as_nanos();
        if elapsed < 2_000_000 {
            return None;
        }
        // At least `before - start.2` ticks passed between the two monotonic reads.
        let rate = before.saturating_sub(start.2) as f64 / elapsed as f64 * 0.9;
        if !(0.05..100.0).contains(&rate) {
            RATE.store(UNUSABLE, Ordering::Relaxed);
            return None;
        }
        RATE.store(rate.to_bits(), Ordering::Relaxed);
        Some(rate)
    }

    /// An invariant TSC (CPUID 0x8000_0007, EDX bit 8) that the kernel uses as its clock source.
    fn usable() -> bool {
        use core::arch::x86_64::__cpuid;
        // Leaf 0x8000_0000 gives the highest extended leaf, checked before 0x8000_0007 is read.
        let invariant = __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0;
        invariant
            && std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .is_ok_and(|s| s.trim() == "tsc")
    }

    /// Whether the counter is in use (`None` until the rate is measured).
    #[cfg(test)]
    pub(super) fn in_use() -> Option<bool> {
        match RATE.load(Ordering::Relaxed) {
            0 => None,
            UNUSABLE => Some(false),
            _ => Some(true),
        }
    }

    #[cfg(test)]
    pub(super) fn full_reads() -> u64 {
        FULL_READS.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_read_lies_between_the_full_reads_around_it() {
        // 300,000 reads spanning many millisecond boundaries: each one is at least the full
        // read before it and at most the full read after it.
        let start = std::time::Instant::now();
        let mut reads = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(60) || reads < 300_000 {
            let before = crate::util::now_ms();
            let ms = now_ms();
            let after = crate::util::now_ms();
            assert!(before <= ms && ms <= after, "{before} <= {ms} <= {after}");
            reads += 1;
        }
        // Back to back, most reads come from the cache where the counter is usable.
        #[cfg(target_arch = "x86_64")]
        {
            let full0 = tsc::full_reads();
            let mut last = now_ms();
            for _ in 0..200_000 {
                let ms = now_ms();
                assert!(ms >= last, "the clock went back from {last} to {ms}");
                last = ms;
            }
            let full = tsc::full_reads() - full0;
            match tsc::in_use() {
                Some(true) => assert!(full < 20_000, "{full} full reads out of 200,000"),
                Some(false) => assert_eq!(full, 200_000, "without a usable counter every read is a full one"),
                None => panic!("the counter's rate is still unknown after {reads} reads"),
            }
        }
    }
}
