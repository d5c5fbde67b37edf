//! CRC-32C (Castagnoli) for record batches: a faster checksum of long runs than the `crc32c`
//! crate's on x86-64 ([`crc32c_append`], folding with carry-less multiplication), and
//! combining the checksums of two adjacent byte runs without reading the bytes again.
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
//! CRC-32C values (`crc32c::crc32c`). Cost: one 32-step carry-less multiplication per set bit
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

/// `crc32c::crc32c_append`: the CRC-32C of `A ‖ data` from `crc = crc32c(A)`, by carry-less
/// multiplication on 512-bit registers on x86-64 CPUs that have it (AVX-512F and
/// VPCLMULQDQ, with PCLMULQDQ and SSE 4.2; checked at run time), otherwise (and for runs
/// under [`FOLD_FROM`] bytes) by the `crc32c` crate.
///
/// The `crc32c` crate runs the SSE 4.2 `crc32` instruction on three streams at once and joins
/// them with table lookups, at most 8 bytes per cycle: on the producer's 4 KiB runs
/// ([`super::batch::CRC_RUN`]) about 49 ns per KiB on the 2-vCPU AMD EPYC (Zen 4) VM, a fifth
/// of the CPU of a thread sending 1 KiB records. Folding (the method of Intel's white paper
/// "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", 2009) keeps
/// remainders of 256-byte strides and moves them forward with carry-less multiplications by
/// `x^n mod P` constants: about 18 ns per KiB there. (The same folding on 128-bit registers,
/// PCLMULQDQ only, measured 75 ns per KiB, slower than the `crc32` instruction, so CPUs
/// without VPCLMULQDQ keep the crate.) See `fold` for the arithmetic.
#[inline]
#[allow(unsafe_code)]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if data.len() >= FOLD_FROM && fold::available() {
            // SAFETY: the CPU has the features `fold` is compiled for (checked just above).
            return unsafe { fold::crc32c_append(crc, data) };
        }
    }
    crc32c::crc32c_append(crc, data)
}

/// The CRC-32C of `data` ([`crc32c_append`] from the empty run).
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

/// Shortest run [`crc32c_append`] folds (below it the setup and final reduction cost more
/// than they save).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub const FOLD_FROM: usize = 256;

/// `x^n mod P` for the CRC-32C polynomial in normal bit order (bit `d` is `x^d`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn xnmodp_normal(n: u32) -> u64 {
    const P: u64 = 0x1_1EDC_6F41;
    let mut r: u64 = 1;
    let mut i = 0;
    while i < n {
        r <<= 1;
        if r & (1 << 32) != 0 {
            r ^= P;
        }
        i += 1;
    }
    r
}

/// A folding constant as a 64-bit lane in the reflected order of the data (bit `i` is
/// `x^(63-i)`): `x^n mod P`, bit-reversed.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn fold_constant(n: u32) -> u64 {
    xnmodp_normal(n).reverse_bits()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod fold {
    //! The arithmetic, in the reflected order CRC-32C uses: a 16-byte block loaded
    //! little-endian is a polynomial of degree < 128 whose bit `i` is the coefficient of
    //! `x^(127-i)`, so its low 64-bit lane `H` (the first 8 bytes) holds the high-degree half:
    //! `X = H·x^64 + L`. Moving `X` forward by `D` bits (`X·x^D mod P`, then added to the block
    //! `D` bits further on) is `H·x^(64+D) + L·x^D`. The carry-less product of two reflected
    //! 64-bit lanes `a`, `b` (polynomials `A`, `B` of degree < 64) read as a reflected 128-bit
    //! value is `x·A·B`, so `H` is multiplied by the lane of `x^(63+D) mod P` and `L` by that
    //! of `x^(D-1) mod P`; both products have degree < 96 and need no further reduction before
    //! they are added to the block `D` bits further on. The register's starting value is
    //! XORed into the first four bytes (for a reflected CRC, a starting register is the same
    //! as those bytes flipped), and the last remainder is fed through the `crc32` instruction
    //! from a zero register, which yields `X·x^32 mod P`: the register after all the folded
    //! bytes.
    //!
    //! A 512-bit register holds four consecutive blocks; four registers cover 256 bytes and
    //! each moves 2,048 bits per step (`VPCLMULQDQ` multiplies the four blocks of a register
    //! at once). The registers then fold into one (512 bits apart), its four blocks into one
    //! (384, 256 and 128 bits apart), and the last whole blocks follow 128 bits at a time.
    use std::arch::x86_64::*;

    use super::fold_constant;

    /// `(x^(63+D) mod P, x^(D-1) mod P)` lanes for a fold of `D` bits.
    const K2048: (u64, u64) = (fold_constant(2048 + 63), fold_constant(2047));
    const K512: (u64, u64) = (fold_constant(512 + 63), fold_constant(511));
    const K384: (u64, u64) = (fold_constant(384 + 63), fold_constant(383));
    const K256: (u64, u64) = (fold_constant(256 + 63), fold_constant(255));
    const K128: (u64, u64) = (fold_constant(128 + 63), fold_constant(127));

    /// Whether the CPU can run [`crc32c_append`].
    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("vpclmulqdq")
            && std::is_x86_feature_detected!("pclmulqdq")
            && std::is_x86_feature_detected!("sse4.2")
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn wide(k: (u64, u64)) -> __m512i {
        _mm512_broadcast_i32x4(_mm_set_epi64x(k.1 as i64, k.0 as i64))
    }

    /// The four blocks of `x` moved forward by the fold of `k`, added to `next`.
    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    fn fold_wide(x: __m512i, k: __m512i, next: __m512i) -> __m512i {
        let h = _mm512_clmulepi64_epi128::<0x00>(x, k);
        let l = _mm512_clmulepi64_epi128::<0x11>(x, k);
        _mm512_ternarylogic_epi64::<0x96>(h, l, next)
    }

    /// One block `x` moved forward by the fold of `k`, added to `next`.
    #[inline]
    #[target_feature(enable = "pclmulqdq,sse2")]
    fn fold_one(x: __m128i, k: (u64, u64), next: __m128i) -> __m128i {
        let k = _mm_set_epi64x(k.1 as i64, k.0 as i64);
        let h = _mm_clmulepi64_si128::<0x00>(x, k);
        let l = _mm_clmulepi64_si128::<0x11>(x, k);
        _mm_xor_si128(_mm_xor_si128(h, l), next)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load_wide(data: &[u8], at: usize) -> __m512i {
        assert!(at + 64 <= data.len());
        // SAFETY: the 64 bytes are inside `data` (checked above); the load is unaligned.
        unsafe { _mm512_loadu_si512(data.as_ptr().add(at).cast()) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load_one(data: &[u8], at: usize) -> __m128i {
        assert!(at + 16 <= data.len());
        // SAFETY: the 16 bytes are inside `data` (checked above); the load is unaligned.
        unsafe { _mm_loadu_si128(data.as_ptr().add(at).cast()) }
    }

    /// `crc32c::crc32c_append` for `data.len() >= 256`.
    ///
    /// # Safety
    /// The CPU must have the features of [`available`].
    #[target_feature(enable = "avx512f,vpclmulqdq,pclmulqdq,sse2,sse4.1,sse4.2")]
    pub(super) unsafe fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
        assert!(data.len() >= 256);
        let start = _mm512_zextsi128_si512(_mm_cvtsi32_si128(!crc as i32));
        let mut x0 = _mm512_xor_si512(load_wide(data, 0), start);
        let mut x1 = load_wide(data, 64);
        let mut x2 = load_wide(data, 128);
        let mut x3 = load_wide(data, 192);
        let mut at = 256;
        let k2048 = wide(K2048);
        while at + 256 <= data.len() {
            x0 = fold_wide(x0, k2048, load_wide(data, at));
            x1 = fold_wide(x1, k2048, load_wide(data, at + 64));
            x2 = fold_wide(x2, k2048, load_wide(data, at + 128));
            x3 = fold_wide(x3, k2048, load_wide(data, at + 192));
            at += 256;
        }
        let k512 = wide(K512);
        let mut x = fold_wide(x0, k512, x1);
        x = fold_wide(x, k512, x2);
        x = fold_wide(x, k512, x3);
        while at + 64 <= data.len() {
            x = fold_wide(x, k512, load_wide(data, at));
            at += 64;
        }
        let mut y = fold_one(_mm512_extracti32x4_epi32::<0>(x), K384, _mm512_extracti32x4_epi32::<3>(x));
        y = fold_one(_mm512_extracti32x4_epi32::<1>(x), K256, y);
        y = fold_one(_mm512_extracti32x4_epi32::<2>(x), K128, y);
        while at + 16 <= data.len() {
            y = fold_one(y, K128, load_one(data, at));
            at += 16;
        }
        let lo = _mm_cvtsi128_si64(y) as u64;
        let hi = _mm_extract_epi64::<1>(y) as u64;
        let mut r = _mm_crc32_u64(_mm_crc32_u64(0, lo), hi);
        while at + 8 <= data.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&data[at..at + 8]);
            r = _mm_crc32_u64(r, u64::from_le_bytes(w));
            at += 8;
        }
        let mut r = r as u32;
        for &b in &data[at..] {
            r = _mm_crc32_u8(r, b);
        }
        !r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_checksum_equals_the_crc32c_crate_for_every_length_alignment_and_start() {
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
        // a flipped bit anywhere in a folded run changes it
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
        // a flipped bit anywhere changes the result
        let mut bad = data[..5040].to_vec();
        bad[4000] ^= 0x10;
        assert_ne!(combine(crc32c::crc32c(&bad[..40]), crc32c::crc32c(&bad[40..]), 5000), crc32c::crc32c(&data[..5040]));
    }
}
