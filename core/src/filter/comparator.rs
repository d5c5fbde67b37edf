//! Comparators: how a compare filter orders a cell's bytes against its comparand.
//!
//! Each follows the HBase class of the same name (apache/hbase `hbase-client/.../filter/`):
//! `compare_to(value)` returns how the *comparand* orders against `value`, the sign of HBase's
//! `ByteArrayComparable.compareTo(value)`. Pattern comparators (regex, substring) answer
//! `Equal` for a match and `Greater` otherwise, so they only make sense with `=` and `!=` (the
//! filter language enforces that, as HBase does).

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};

/// Orders the comparand exactly against the value's bytes (`binary:` in the filter language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryComparator {
    value: Vec<u8>,
}

impl BinaryComparator {
    /// A comparator for these bytes.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        BinaryComparator { value: value.into() }
    }

    /// The comparand.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    fn compare_to(&self, value: &[u8]) -> Ordering {
        self.value.as_slice().cmp(value)
    }
}

/// Orders the comparand against the value cut to the comparand's length
/// (`binaryprefix:`), so `=` means "value starts with the comparand".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPrefixComparator {
    value: Vec<u8>,
}

impl BinaryPrefixComparator {
    /// A comparator for this prefix.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        BinaryPrefixComparator { value: value.into() }
    }

    /// The comparand.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    fn compare_to(&self, value: &[u8]) -> Ordering {
        let n = self.value.len().min(value.len());
        self.value.as_slice().cmp(value.get(..n).unwrap_or(value))
    }
}

/// Matches when a regular expression is found anywhere in the value (`regexstring:`).
///
/// As HBase's default Java engine: the value is decoded as UTF-8 (invalid sequences become
/// U+FFFD), `.` matches newlines (`DOTALL`), and a match anywhere counts (`find`). The syntax is
/// Rust's `regex` crate, which lacks look-around and back-references.
#[derive(Debug, Clone)]
pub struct RegexStringComparator {
    pattern: String,
    regex: regex::Regex,
}

impl RegexStringComparator {
    /// Compile `pattern`; an invalid pattern is an `InvalidArgument` error.
    pub fn new(pattern: &str) -> Result<Self> {
        let regex = regex::RegexBuilder::new(pattern)
            .dot_matches_new_line(true)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| Error::invalid(format!("invalid regular expression {pattern:?}: {e}")))?;
        Ok(RegexStringComparator { pattern: pattern.to_string(), regex })
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn compare_to(&self, value: &[u8]) -> Ordering {
        if self.regex.is_match(&String::from_utf8_lossy(value)) {
            Ordering::Equal
        } else {
            Ordering::Greater
        }
    }
}

impl PartialEq for RegexStringComparator {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// Matches when the value, decoded as UTF-8 and lower-cased, contains the lower-cased substring
/// (`substring:`; case-insensitive as HBase's `SubstringComparator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstringComparator {
    substr: String,
}

impl SubstringComparator {
    /// A comparator for this substring (stored lower-cased).
    pub fn new(substr: &str) -> Self {
        SubstringComparator { substr: substr.to_lowercase() }
    }

    /// The lower-cased substring.
    pub fn substr(&self) -> &str {
        &self.substr
    }

    fn compare_to(&self, value: &[u8]) -> Ordering {
        if String::from_utf8_lossy(value).to_lowercase().contains(&self.substr) {
            Ordering::Equal
        } else {
            Ordering::Greater
        }
    }
}

/// Orders a signed 64-bit comparand against a value holding an 8-byte big-endian long (HBase's
/// `LongComparator`). A value of any other width cannot be compared: only `!=` holds for it
/// (HBase would fail the whole scan instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongComparator {
    value: i64,
}

impl LongComparator {
    /// A comparator for this long.
    pub fn new(value: i64) -> Self {
        LongComparator { value }
    }

    /// The comparand.
    pub fn value(&self) -> i64 {
        self.value
    }

    fn compare_to(&self, value: &[u8]) -> Option<Ordering> {
        let bytes: [u8; 8] = value.try_into().ok()?;
        Some(self.value.cmp(&i64::from_be_bytes(bytes)))
    }
}

/// The bitwise operation of a [`BitComparator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOperator {
    /// `comparand & value`.
    And,
    /// `comparand | value`.
    Or,
    /// `comparand ^ value`.
    Xor,
}

/// Matches (`Equal`) when `comparand OP value` has any bit set; values of another length never
/// match (HBase's `BitComparator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitComparator {
    value: Vec<u8>,
    op: BitOperator,
}

impl BitComparator {
    /// A comparator for these bits and operation.
    pub fn new(value: impl Into<Vec<u8>>, op: BitOperator) -> Self {
        BitComparator { value: value.into(), op }
    }

    fn compare_to(&self, value: &[u8]) -> Ordering {
        if value.len() != self.value.len() {
            return Ordering::Greater;
        }
        let any = self.value.iter().zip(value).any(|(a, b)| {
            let r = match self.op {
                BitOperator::And => a & b,
                BitOperator::Or => a | b,
                BitOperator::Xor => a ^ b,
            };
            r != 0
        });
        if any {
            Ordering::Equal
        } else {
            Ordering::Greater
        }
    }
}

/// Any comparator a compare filter can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparator {
    /// [`BinaryComparator`].
    Binary(BinaryComparator),
    /// [`BinaryPrefixComparator`].
    BinaryPrefix(BinaryPrefixComparator),
    /// [`RegexStringComparator`].
    RegexString(RegexStringComparator),
    /// [`SubstringComparator`].
    Substring(SubstringComparator),
    /// [`LongComparator`].
    Long(LongComparator),
    /// [`BitComparator`].
    Bit(BitComparator),
}

impl Comparator {
    /// How the comparand orders against `value` (`None`: not comparable, see
    /// [`LongComparator`]).
    pub fn compare_to(&self, value: &[u8]) -> Option<Ordering> {
        match self {
            Comparator::Binary(c) => Some(c.compare_to(value)),
            Comparator::BinaryPrefix(c) => Some(c.compare_to(value)),
            Comparator::RegexString(c) => Some(c.compare_to(value)),
            Comparator::Substring(c) => Some(c.compare_to(value)),
            Comparator::Long(c) => c.compare_to(value),
            Comparator::Bit(c) => Some(c.compare_to(value)),
        }
    }

    /// Whether this is a pattern comparator (regex or substring), which HBase's filter language
    /// allows only with `=` and `!=`.
    pub fn is_pattern(&self) -> bool {
        matches!(self, Comparator::RegexString(_) | Comparator::Substring(_))
    }

    /// The filter-language form, `type:value` (without the quotes), when the language has one.
    pub fn language_form(&self) -> Option<Vec<u8>> {
        let (prefix, body): (&[u8], &[u8]) = match self {
            Comparator::Binary(c) => (b"binary:", &c.value),
            Comparator::BinaryPrefix(c) => (b"binaryprefix:", &c.value),
            Comparator::RegexString(c) => (b"regexstring:", c.pattern.as_bytes()),
            Comparator::Substring(c) => (b"substring:", c.substr.as_bytes()),
            Comparator::Long(_) | Comparator::Bit(_) => return None,
        };
        let mut out = prefix.to_vec();
        out.extend_from_slice(body);
        Some(out)
    }

    /// Build a comparator from its filter-language form `type:value` (HBase's
    /// `ParseFilter.createComparator`): `binary`, `binaryprefix`, `regexstring`, `substring`.
    /// The type is split at the first `:`.
    pub fn from_language(spec: &[u8]) -> Result<Comparator> {
        let Some(colon) = spec.iter().position(|&b| b == b':') else {
            return Err(Error::invalid(
                "a comparator must look like type:value, e.g. 'binary:abc' (no ':' found)",
            ));
        };
        let (kind, value) = (&spec[..colon], &spec[colon + 1..]);
        Ok(match kind {
            b"binary" => BinaryComparator::new(value).into(),
            b"binaryprefix" => BinaryPrefixComparator::new(value).into(),
            b"regexstring" => RegexStringComparator::new(&String::from_utf8_lossy(value))?.into(),
            b"substring" => SubstringComparator::new(&String::from_utf8_lossy(value)).into(),
            other => {
                return Err(Error::invalid(format!(
                    "unknown comparator type {:?}: expected binary, binaryprefix, regexstring or substring",
                    String::from_utf8_lossy(other)
                )))
            }
        })
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Comparator::Long(c) => write!(f, "long:{}", c.value),
            Comparator::Bit(c) => write!(f, "bit{:?}:{}", c.op, String::from_utf8_lossy(&c.value)),
            other => f.write_str(&String::from_utf8_lossy(&other.language_form().unwrap_or_default())),
        }
    }
}

macro_rules! into_comparator {
    ($t:ty, $v:ident) => {
        impl From<$t> for Comparator {
            fn from(c: $t) -> Comparator {
                Comparator::$v(c)
            }
        }
    };
}
into_comparator!(BinaryComparator, Binary);
into_comparator!(BinaryPrefixComparator, BinaryPrefix);
into_comparator!(RegexStringComparator, RegexString);
into_comparator!(SubstringComparator, Substring);
into_comparator!(LongComparator, Long);
into_comparator!(BitComparator, Bit);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::CompareOperator as Op;
    use Ordering::*;

    fn holds(c: impl Into<Comparator>, op: Op, value: &[u8]) -> bool {
        op.holds(c.into().compare_to(value))
    }

    #[test]
    fn binary_orders_bytes_unsigned_lexicographically() {
        let c = BinaryComparator::new(&b"b"[..]);
        assert_eq!(c.compare_to(b"a"), Greater);
        assert_eq!(c.compare_to(b"b"), Equal);
        assert_eq!(c.compare_to(b"ba"), Less);
        assert_eq!(c.compare_to(&[0xff]), Less, "bytes are unsigned");
        assert!(holds(c.clone(), Op::Less, b"a"));
        assert!(holds(c.clone(), Op::GreaterOrEqual, b"b"));
        assert!(!holds(c, Op::Greater, b"b"));
    }

    #[test]
    fn binary_prefix_compares_only_the_prefix_length() {
        let c = BinaryPrefixComparator::new(&b"ab"[..]);
        assert_eq!(c.compare_to(b"abzzz"), Equal);
        assert_eq!(c.compare_to(b"ab"), Equal);
        assert_eq!(c.compare_to(b"a"), Greater, "shorter value sorts before the prefix");
        assert_eq!(c.compare_to(b"aa"), Greater);
        assert_eq!(c.compare_to(b"b"), Less);
        assert!(holds(c, Op::Equal, b"abc"));
    }

    #[test]
    fn regex_finds_anywhere_with_dotall() {
        let c = RegexStringComparator::new("b.c").unwrap();
        assert_eq!(c.compare_to(b"xxb\ncyy"), Equal, "dot matches newline");
        assert_eq!(c.compare_to(b"abd"), Greater);
        let anchored = RegexStringComparator::new("^row[0-9]+$").unwrap();
        assert_eq!(anchored.compare_to(b"row12"), Equal);
        assert_eq!(anchored.compare_to(b"row12x"), Greater);
        assert!(holds(anchored.clone(), Op::NotEqual, b"x"));
        assert!(!holds(anchored, Op::Equal, b"x"));
        let e = RegexStringComparator::new("(").unwrap_err();
        assert_eq!(e.code(), crate::error::ErrorCode::InvalidArgument);
    }

    #[test]
    fn substring_is_case_insensitive() {
        let c = SubstringComparator::new("BeE");
        assert_eq!(c.substr(), "bee");
        assert_eq!(c.compare_to(b"a BEEhive"), Equal);
        assert_eq!(c.compare_to(b"be"), Greater);
        assert_eq!(c.compare_to(&[0xff, b'b', b'e', b'e']), Equal, "invalid UTF-8 is replaced, not fatal");
    }

    #[test]
    fn long_needs_eight_bytes() {
        let c = LongComparator::new(5);
        assert_eq!(c.compare_to(&7i64.to_be_bytes()), Some(Less));
        assert_eq!(c.compare_to(&(-1i64).to_be_bytes()), Some(Greater), "signed");
        assert_eq!(c.compare_to(&5i64.to_be_bytes()), Some(Equal));
        assert_eq!(c.compare_to(b"short"), None);
        assert!(holds(c, Op::Greater, &7i64.to_be_bytes()));
        assert!(holds(c, Op::NotEqual, b"x"));
        assert!(!holds(c, Op::Less, b"x"));
    }

    #[test]
    fn bit_matches_when_any_bit_is_set() {
        let and = BitComparator::new(vec![0b0001, 0], BitOperator::And);
        assert_eq!(and.compare_to(&[0b0011, 0]), Equal);
        assert_eq!(and.compare_to(&[0b0010, 0]), Greater);
        assert_eq!(and.compare_to(&[0b0011]), Greater, "length mismatch never matches");
        let xor = BitComparator::new(vec![1], BitOperator::Xor);
        assert_eq!(xor.compare_to(&[1]), Greater);
        assert_eq!(xor.compare_to(&[3]), Equal);
        let or = BitComparator::new(vec![0], BitOperator::Or);
        assert_eq!(or.compare_to(&[0]), Greater);
        assert_eq!(or.compare_to(&[4]), Equal);
    }

    #[test]
    fn language_forms_round_trip() {
        for spec in [&b"binary:abc"[..], b"binaryprefix:", b"regexstring:^a.*", b"substring:xy", b"binary:a:b"] {
            let c = Comparator::from_language(spec).unwrap();
            assert_eq!(c.language_form().unwrap(), spec);
        }
        assert!(matches!(Comparator::from_language(b"binary:a:b").unwrap(), Comparator::Binary(ref b) if b.value() == b"a:b"));
        assert!(Comparator::from_language(b"nocolon").is_err());
        assert!(Comparator::from_language(b"BINARY:x").is_err(), "types are lower-case as in HBase");
        assert!(Comparator::from_language(b"regexstring:(").is_err());
        assert!(Comparator::from(LongComparator::new(1)).language_form().is_none());
    }
}
