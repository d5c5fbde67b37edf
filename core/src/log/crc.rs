//! CRC-32C (Castagnoli) for record batches: a faster checksum of long runs than the `crc32c`
//! crate's where the CPU has carry-less multiplication ([`crc32c_append`], by the `crc-fast`
//! crate), and combining the checksums of two adjacent byte runs without reading the bytes again.
//!
//! A record batch's CRC covers its header fields from `attributes` on, then the records. The
//! producer checksums the records while it appends them (the bytes are still in the CPU cache
//! then) and only learns the header fields when the batch is sealed, so the batch CRC is
//! `combine(crc(header fields), crc(records), records length)`.
//!
//! `combine` is the method of zlib's `crc32_combine` (zlib 1.2.12 and later, `crc32.c`):
//! `crc(A ‖ B) = (crc(A) · x^(8·|B|)) mod P ⊕ crc(B)` in the bit-reflected representation, with
//! `x^(8·n) mod P` built from a table of `x^(2^k) mod P` by square-and-multiply. The pre- and
//! post-inversion of the standard CRC cancel out, so the inputs and the result are ordinary
//! CRC-32C values ([`crc32c`]). Cost: one 32-step carry-less multiplication per set bit
//! of the length plus one, well under a microsecond for a 1 MiB batch (the GF(2)
//! matrix-squaring combine of the `crc32c` crate takes tens of microseconds).

/// CRC-32C polynomial, bit-reflected.
const POLY: u32 = 0x82F6_3B78;

/// `a · b mod P` for bit-reflected polynomials (bit 31 is x^0).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut p = 0u32;
    let mut i = 0;
    while i < 32 {
        if a & (1u32 << (31 - i)) != 0 {
            p ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        i += 1;
    }
    p
}

/// `X2N[k] = x^(2^k) mod P`.
const X2N: [u32; 64] = {
    let mut t = [0u32; 64];
    let mut p = 1u32 << 30; // x^1
    let mut k = 0;
    while k < 64 {
        t[k] = p;
        p = multmodp(p, p);
        k += 1;
    }
    t
};

/// `x^(8·n) mod P`: the operator that feeds `n` zero bytes through the CRC register.
fn x8nmodp(mut n: u64) -> u32 {
    let mut p = 1u32 << 31; // x^0
    let mut k = 3;
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(X2N[k], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C of `A ‖ B` from `crc_a = crc32c(A)`, `crc_b = crc32c(B)` and `len_b = |B|`.
pub fn combine(crc_a: u32, crc_b: u32, len_b: usize) -> u32 {
    multmodp(x8nmodp(len_b as u64), crc_a) ^ crc_b
}

/// The factor [`combine_shifted`] takes for a second part of `len_b` bytes: the costly half of
/// [`combine`] (about 5,000 instructions for a 64 KiB part), computable before the first part
/// is known.
pub fn shift_for(len_b: usize) -> u32 {
    x8nmodp(len_b as u64)
}

/// [`combine`] with the factor [`shift_for`] gave for the second part's length.
pub fn combine_shifted(crc_a: u32, crc_b: u32, shift: u32) -> u32 {
    multmodp(shift, crc_a) ^ crc_b
}

/// `crc32c::crc32c_append`: the CRC-32C of `A ‖ data` from `crc = crc32c(A)`, computed by the
/// `crc-fast` crate (`CRC-32/ISCSI`, which is CRC-32C), which picks at run time the widest
/// carry-less multiplication the CPU has (VPCLMULQDQ on 512-bit registers, PCLMULQDQ, NEON
/// PMULL) and folds long runs with it.
///
/// The `crc32c` crate runs the SSE 4.2 `crc32` instruction on three streams at once, at most 8
/// bytes per cycle: on the producer's 4 KiB runs ([`super::batch::CRC_RUN`]) about 49 ns per
/// KiB on the 2-vCPU AMD EPYC (Zen 4) VM, a fifth of the CPU of a thread sending 1 KiB
/// records; `crc-fast` took about half that there (docs/benchmarks.md, Topics, session 7).
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    // A reflected CRC's register is the complement of the checksum so far.
    let mut digest = crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Iscsi, u64::from(!crc));
    digest.update(data);
    digest.finalize() as u32
}

/// The CRC-32C of `data` ([`crc32c_append`] from the empty run).
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_checksum_equals_the_crc32c_crate_for_every_length_alignment_and_start() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        // 32 bytes of zeros, ones and an increasing run: RFC 3720 B.4's CRC-32C test vectors
        // (stored little-endian there; these are the values as returned).
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        let data: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        for len in (0..600).chain([1023, 1024, 1025, 4095, 4096, 4097, 64_107, 65_536, 69_999]) {
            for start in [0usize, 1, 3, 8, 13] {
                if start + len > data.len() {
                    continue;
                }
                let run = &data[start..start + len];
                for seed in [0u32, 0xFFFF_FFFF, 0x1234_5678] {
                    assert_eq!(crc32c_append(seed, run), crc32c::crc32c_append(seed, run), "len {len} start {start} seed {seed:#x}");
                }
            }
        }
        // appending in pieces gives the checksum of the whole
        let mut c = 0;
        for piece in data.chunks(4096 + 61) {
            c = crc32c_append(c, piece);
        }
        assert_eq!(c, crc32c::crc32c(&data));
        // a flipped bit anywhere in a long run changes it
        let mut bad = data[..5000].to_vec();
        let good = crc32c(&bad);
        for bit in [0usize, 7, 8 * 63, 8 * 64 + 3, 8 * 4000, 8 * 4999 + 7] {
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(crc32c(&bad), good, "bit {bit}");
            bad[bit / 8] ^= 1 << (bit % 8);
        }
    }

    #[test]
    fn combine_equals_the_checksum_of_the_concatenation() {
        // known vector: CRC-32C("123456789") = 0xE3069283 (RFC 3720 check value)
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for &split in &[0usize, 1, 7, 40, 61, 1000, 4096, 65_536, 299_999, 300_000] {
            let (a, b) = data.split_at(split);
            let whole = crc32c::crc32c(&data);
            assert_eq!(combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()), whole, "split at {split}");
            assert_eq!(combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()), crc32c::crc32c_combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()));
        }
        // three pieces, combined left to right
        let (a, rest) = data.split_at(40);
        let (b, c) = rest.split_at(5000);
        let ab = combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len());
        assert_eq!(combine(ab, crc32c::crc32c(c), c.len()), crc32c::crc32c(&data));
        // the factor prepared apart gives the same result as `combine`
        for &len in &[0usize, 1, 40, 4096, 64_067, 299_960] {
            let (a, b) = data.split_at(data.len() - len);
            assert_eq!(combine_shifted(crc32c::crc32c(a), crc32c::crc32c(b), shift_for(len)), crc32c::crc32c(&data), "second part {len}");
        }
        // a flipped bit anywhere changes the result
        let mut bad = data[..5040].to_vec();
        bad[4000] ^= 0x10;
        assert_ne!(combine(crc32c::crc32c(&bad[..40]), crc32c::crc32c(&bad[40..]), 5000), crc32c::crc32c(&data[..5040]));
    }
}
