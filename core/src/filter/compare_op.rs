//! `CompareOperator`: the relation a compare filter checks between a cell's bytes and a comparand.
//!
//! Semantics follow HBase's `CompareFilter.compare(op, compareResult)` (apache/hbase
//! `hbase-client/.../filter/CompareFilter.java`): the comparator reports how the *comparand*
//! orders against the cell's bytes, and the filter keeps the cell when "value OP comparand"
//! holds. `NoOp` never holds (HBase's compare filters drop every cell with `NO_OP`).

use std::cmp::Ordering;
use std::fmt;

/// A comparison operator, HBase's `CompareOperator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOperator {
    /// `value < comparand` (`<`).
    Less,
    /// `value <= comparand` (`<=`).
    LessOrEqual,
    /// `value == comparand` (`=`).
    Equal,
    /// `value != comparand` (`!=`).
    NotEqual,
    /// `value >= comparand` (`>=`).
    GreaterOrEqual,
    /// `value > comparand` (`>`).
    Greater,
    /// No operation: nothing matches.
    NoOp,
}

impl CompareOperator {
    /// Whether "value OP comparand" holds, given how the comparand orders against the value
    /// (`comparand.cmp(value)`, HBase's `ByteArrayComparable.compareTo(value)` sign). `None`
    /// means the two cannot be compared (e.g. a `LongComparator` against a value that is not 8
    /// bytes): then only `NotEqual` holds.
    pub fn holds(self, comparand_vs_value: Option<Ordering>) -> bool {
        let Some(ord) = comparand_vs_value else {
            return self == CompareOperator::NotEqual;
        };
        match self {
            // value < comparand  <=>  comparand > value
            CompareOperator::Less => ord == Ordering::Greater,
            CompareOperator::LessOrEqual => ord != Ordering::Less,
            CompareOperator::Equal => ord == Ordering::Equal,
            CompareOperator::NotEqual => ord != Ordering::Equal,
            CompareOperator::GreaterOrEqual => ord != Ordering::Greater,
            CompareOperator::Greater => ord == Ordering::Less,
            CompareOperator::NoOp => false,
        }
    }

    /// The filter-language symbol (`<`, `<=`, `=`, `!=`, `>=`, `>`); `None` for `NoOp`, which
    /// the language cannot express.
    pub fn symbol(self) -> Option<&'static str> {
        Some(match self {
            CompareOperator::Less => "<",
            CompareOperator::LessOrEqual => "<=",
            CompareOperator::Equal => "=",
            CompareOperator::NotEqual => "!=",
            CompareOperator::GreaterOrEqual => ">=",
            CompareOperator::Greater => ">",
            CompareOperator::NoOp => return None,
        })
    }

    /// The operator for a filter-language symbol, as HBase's `ParseFilter.createCompareOperator`.
    pub fn from_symbol(s: &[u8]) -> Option<CompareOperator> {
        Some(match s {
            b"<" => CompareOperator::Less,
            b"<=" => CompareOperator::LessOrEqual,
            b"=" => CompareOperator::Equal,
            b"!=" => CompareOperator::NotEqual,
            b">=" => CompareOperator::GreaterOrEqual,
            b">" => CompareOperator::Greater,
            _ => return None,
        })
    }

    /// HBase's enum name, e.g. `GREATER_OR_EQUAL`.
    pub fn name(self) -> &'static str {
        match self {
            CompareOperator::Less => "LESS",
            CompareOperator::LessOrEqual => "LESS_OR_EQUAL",
            CompareOperator::Equal => "EQUAL",
            CompareOperator::NotEqual => "NOT_EQUAL",
            CompareOperator::GreaterOrEqual => "GREATER_OR_EQUAL",
            CompareOperator::Greater => "GREATER",
            CompareOperator::NoOp => "NO_OP",
        }
    }

    /// The operator with HBase's enum name (`LESS` .. `NO_OP`), case-insensitive.
    pub fn from_name(name: &str) -> Option<CompareOperator> {
        Self::ALL.iter().copied().find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// Every operator.
    pub const ALL: [CompareOperator; 7] = [
        CompareOperator::Less,
        CompareOperator::LessOrEqual,
        CompareOperator::Equal,
        CompareOperator::NotEqual,
        CompareOperator::GreaterOrEqual,
        CompareOperator::Greater,
        CompareOperator::NoOp,
    ];
}

impl fmt::Display for CompareOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol().unwrap_or("NO_OP"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// value OP comparand, checked against the integers' own relation.
    #[test]
    fn holds_means_value_op_comparand() {
        for value in 0..3i32 {
            for comparand in 0..3i32 {
                let ord = Some(comparand.cmp(&value));
                assert_eq!(CompareOperator::Less.holds(ord), value < comparand);
                assert_eq!(CompareOperator::LessOrEqual.holds(ord), value <= comparand);
                assert_eq!(CompareOperator::Equal.holds(ord), value == comparand);
                assert_eq!(CompareOperator::NotEqual.holds(ord), value != comparand);
                assert_eq!(CompareOperator::GreaterOrEqual.holds(ord), value >= comparand);
                assert_eq!(CompareOperator::Greater.holds(ord), value > comparand);
                assert!(!CompareOperator::NoOp.holds(ord));
            }
        }
    }

    #[test]
    fn incomparable_only_satisfies_not_equal() {
        for op in CompareOperator::ALL {
            assert_eq!(op.holds(None), op == CompareOperator::NotEqual, "{op:?}");
        }
    }

    #[test]
    fn symbols_and_names_round_trip() {
        for op in CompareOperator::ALL {
            if let Some(s) = op.symbol() {
                assert_eq!(CompareOperator::from_symbol(s.as_bytes()), Some(op));
            }
            assert_eq!(CompareOperator::from_name(op.name()), Some(op));
        }
        assert_eq!(CompareOperator::from_symbol(b"=="), None);
        assert_eq!(CompareOperator::from_symbol(b"<>"), None);
        assert_eq!(CompareOperator::from_name("greater"), Some(CompareOperator::Greater));
    }
}
