//! The default partitioner: explicit partition, else murmur2 of the key (bit-exact with Java's
//! `Utils.murmur2`), else sticky for keyless records (KIP-480 / KIP-794).
//!
//! Source of the algorithm: Apache Kafka `clients/.../common/utils/Utils.java` (`murmur2`,
//! `toPositive`) and `BuiltInPartitioner.java` (`partitionForKey`), as summarised in
//! `/work/shared/facts/kafka.md` §2.

/// Java's `Utils.murmur2`: 32-bit murmur2 with seed `0x9747b28c`, wrapping arithmetic.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's fall-through switch on length % 4; bytes are sign-extended there, but each is
    // masked with 0xff first, so plain unsigned bytes give the same bits.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: `n & 0x7fffffff` (not `abs`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's Java producer picks for a keyed record.
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    (to_positive(murmur2(key)) as u32) % num_partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Apache Kafka `clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java`
    /// (`testMurmur2`).
    #[test]
    fn java_vectors() {
        let cases: [(&str, i32); 7] = [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            ("abc", 479470107),
            ("", 275646681),
        ];
        for (s, want) in cases {
            assert_eq!(murmur2(s.as_bytes()), want, "murmur2({s:?})");
        }
    }

    #[test]
    fn to_positive_is_a_mask_not_abs() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-973932308), -973932308 & 0x7fffffff);
        assert_eq!(partition_for_key(b"21", 7), ((-973932308i32 & 0x7fffffff) as u32) % 7);
    }
}
