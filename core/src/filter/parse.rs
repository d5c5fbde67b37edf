//! A parser for HBase's filter language, the string happybase sends as `scan(filter=...)`.
//!
//! Grammar (HBase book, "Filter Language"; apache/hbase `ParseFilter.java`):
//!
//! ```text
//! expr   := and ( "OR" and )*          -- OR binds loosest
//! and    := unary ( "AND" unary )*
//! unary  := "SKIP" unary | "WHILE" unary | "(" expr ")" | filter
//! filter := Name "(" [ arg ( "," arg )* ] ")"
//! arg    := 'quoted string' ('' is a quote inside) | bare token (number, boolean, operator)
//! ```
//!
//! `A AND B AND C` builds one AND list of three, as HBase does. Keywords are upper-case, filter
//! names case-sensitive, booleans `true`/`false` in any case, operators `<`, `<=`, `=`, `!=`,
//! `>`, `>=`, comparators `'binary:..'`, `'binaryprefix:..'`, `'regexstring:..'`,
//! `'substring:..'` (regexstring and substring only with `=` and `!=`). Filters and arguments:
//!
//! | filter | arguments |
//! |---|---|
//! | `KeyOnlyFilter` | none, or `lenAsVal` boolean |
//! | `FirstKeyOnlyFilter` | none |
//! | `PrefixFilter`, `ColumnPrefixFilter`, `InclusiveStopFilter` | `'bytes'` |
//! | `MultipleColumnPrefixFilter` | `'p1', 'p2', ...` |
//! | `ColumnCountGetFilter` | `limit` |
//! | `PageFilter` | `pageSize` |
//! | `ColumnPaginationFilter` | `limit, offset` or `limit, 'columnOffset'` (kabase extension) |
//! | `TimestampsFilter` | `ts, ts, ...` |
//! | `RowFilter`, `FamilyFilter`, `QualifierFilter`, `ValueFilter` | `op, 'comparator'` |
//! | `ColumnRangeFilter` | `'min', minInclusive, 'max', maxInclusive` (`''`: unbounded) |
//! | `SingleColumnValueFilter`, `SingleColumnValueExcludeFilter` | `'family', 'qualifier', op, 'comparator'[, filterIfMissing, latestVersionOnly]` |
//! | `RandomRowFilter` | `chance` (kabase extension) |
//!
//! Errors carry [`ErrorCode::FilterSyntax`] and name the byte position that failed, with the
//! input and a caret under it.

use super::{
    ColumnCountGetFilter, ColumnPaginationFilter, ColumnPrefixFilter, ColumnRangeFilter, Comparator, CompareOperator,
    FamilyFilter, Filter, FilterList, FirstKeyOnlyFilter, InclusiveStopFilter, KeyOnlyFilter, MultipleColumnPrefixFilter,
    PageFilter, PrefixFilter, QualifierFilter, RandomRowFilter, RowFilter, SingleColumnValueExcludeFilter,
    SingleColumnValueFilter, SkipFilter, TimestampsFilter, ValueFilter, WhileMatchFilter,
};
use crate::error::{Error, ErrorCode, Result};

/// Deepest nesting of parentheses, SKIP and WHILE accepted (keeps recursion bounded).
pub const MAX_DEPTH: usize = 64;

/// Every filter name the language accepts.
pub const FILTER_NAMES: &[&str] = &[
    "KeyOnlyFilter",
    "FirstKeyOnlyFilter",
    "PrefixFilter",
    "ColumnPrefixFilter",
    "MultipleColumnPrefixFilter",
    "ColumnCountGetFilter",
    "PageFilter",
    "ColumnPaginationFilter",
    "InclusiveStopFilter",
    "TimestampsFilter",
    "RowFilter",
    "FamilyFilter",
    "QualifierFilter",
    "ValueFilter",
    "ColumnRangeFilter",
    "SingleColumnValueFilter",
    "SingleColumnValueExcludeFilter",
    "RandomRowFilter",
];

/// Parse a filter-language string into a filter.
///
/// ```
/// use kabase::filter;
/// let f = filter::parse("SingleColumnValueFilter('cf', 'q', >=, 'binary:5', true, false) OR PrefixFilter('a')").unwrap();
/// assert_eq!(f.filter_string().unwrap(), b"(SingleColumnValueFilter('cf', 'q', >=, 'binary:5', true, false) OR PrefixFilter('a'))");
/// let err = filter::parse("PrefixFilter('a' 'b')").unwrap_err();
/// assert_eq!(err.code(), kabase::ErrorCode::FilterSyntax);
/// assert!(err.message().starts_with("expected ',' or ')' at position 17:"));
/// ```
pub fn parse(s: &str) -> Result<Box<dyn Filter>> {
    parse_bytes(s.as_bytes())
}

/// [`parse`] for a filter string given as bytes (arguments are bytes; they need not be UTF-8).
pub fn parse_bytes(input: &[u8]) -> Result<Box<dyn Filter>> {
    let mut p = Parser { s: input, pos: 0, depth: 0 };
    p.skip_ws();
    if p.pos >= input.len() {
        return Err(p.error(p.pos, "empty filter string: expected a filter"));
    }
    let f = p.expr()?;
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.error(p.pos, "expected AND, OR or the end of the filter"));
    }
    Ok(f)
}

/// `'bytes'` with each `'` doubled, the language's string form.
pub(crate) fn quote(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.push(b'\'');
        }
        out.push(b);
    }
    out.push(b'\'');
    out
}

/// `Name(arg, arg)`.
pub(crate) fn call(name: &str, args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = name.as_bytes().to_vec();
    out.push(b'(');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(a);
    }
    out.push(b')');
    out
}

/// `Name(op, 'comparator')`, when both have a language form.
pub(crate) fn compare_call(name: &str, op: CompareOperator, comparator: &Comparator) -> Option<Vec<u8>> {
    Some(call(name, &[op.symbol()?.as_bytes().to_vec(), quote(&comparator.language_form()?)]))
}

/// One argument of a filter call.
#[derive(Debug)]
struct Arg {
    /// Byte offset where the argument starts.
    pos: usize,
    /// True when it was a quoted string.
    quoted: bool,
    /// The unescaped content (without quotes) or the bare token.
    bytes: Vec<u8>,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Consume keyword `kw` if it stands here as a whole word.
    fn keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.pos += kw.len();
            return true;
        }
        false
    }

    /// Whether keyword `kw` stands here as a whole word (not consumed).
    fn at_keyword(&self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        self.s.get(self.pos..end) == Some(kw.as_bytes()) && !self.s.get(end).copied().is_some_and(is_ident)
    }

    fn error(&self, pos: usize, msg: &str) -> Error {
        Error::new(ErrorCode::FilterSyntax, format_error(self.s, pos, msg))
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(self.pos, &format!("filter nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Box<dyn Filter>> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_ws();
            if self.keyword("OR") {
                items.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Box::new(FilterList::or(items)) })
    }

    fn and(&mut self) -> Result<Box<dyn Filter>> {
        let mut items = vec![self.unary()?];
        loop {
            self.skip_ws();
            if self.keyword("AND") {
                items.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Box::new(FilterList::and(items)) })
    }

    fn unary(&mut self) -> Result<Box<dyn Filter>> {
        self.skip_ws();
        self.enter()?;
        let f: Box<dyn Filter> = if self.keyword("SKIP") {
            Box::new(SkipFilter::new(self.unary()?))
        } else if self.keyword("WHILE") {
            Box::new(WhileMatchFilter::new(self.unary()?))
        } else if self.peek() == Some(b'(') {
            self.pos += 1;
            let f = self.expr()?;
            self.skip_ws();
            if self.peek() != Some(b')') {
                return Err(self.error(self.pos, "expected ')' to close the group"));
            }
            self.pos += 1;
            f
        } else if self.at_keyword("AND") || self.at_keyword("OR") {
            return Err(self.error(self.pos, "expected a filter name, '(', SKIP or WHILE before the operator"));
        } else if self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.simple()?
        } else if self.pos >= self.s.len() {
            return Err(self.error(self.pos, "unexpected end: expected a filter, '(', SKIP or WHILE"));
        } else {
            return Err(self.error(self.pos, "expected a filter name, '(', SKIP or WHILE"));
        };
        self.depth -= 1;
        Ok(f)
    }

    fn simple(&mut self) -> Result<Box<dyn Filter>> {
        let name_pos = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        let name = String::from_utf8_lossy(&self.s[name_pos..self.pos]).into_owned();
        if !FILTER_NAMES.contains(&name.as_str()) {
            return Err(self.error(name_pos, &format!("unknown filter name {name:?} (known: {})", FILTER_NAMES.join(", "))));
        }
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return Err(self.error(self.pos, &format!("expected '(' after filter name {name}")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b',') => self.pos += 1,
                    _ => return Err(self.error(self.pos, "expected ',' or ')'")),
                }
            }
        }
        self.build(&name, name_pos, args)
    }

    fn arg(&mut self) -> Result<Arg> {
        let start = self.pos;
        if self.peek() == Some(b'\'') {
            self.pos += 1;
            let mut bytes = Vec::new();
            loop {
                match self.peek() {
                    None => return Err(self.error(start, "unterminated quoted string")),
                    Some(b'\'') if self.s.get(self.pos + 1) == Some(&b'\'') => {
                        bytes.push(b'\'');
                        self.pos += 2;
                    }
                    Some(b'\'') => {
                        self.pos += 1;
                        return Ok(Arg { pos: start, quoted: true, bytes });
                    }
                    Some(b) => {
                        bytes.push(b);
                        self.pos += 1;
                    }
                }
            }
        }
        while self.peek().is_some_and(|b| !is_ws(b) && !matches!(b, b',' | b'(' | b')' | b'\'')) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error(start, "expected an argument"));
        }
        Ok(Arg { pos: start, quoted: false, bytes: self.s[start..self.pos].to_vec() })
    }

    fn build(&self, name: &str, name_pos: usize, args: Vec<Arg>) -> Result<Box<dyn Filter>> {
        let a = Args { p: self, name, name_pos, args };
        Ok(match name {
            "KeyOnlyFilter" => {
                a.count(&[0, 1])?;
                Box::new(KeyOnlyFilter::new(if a.args.is_empty() { false } else { a.boolean(0)? }))
            }
            "FirstKeyOnlyFilter" => {
                a.count(&[0])?;
                Box::new(FirstKeyOnlyFilter::new())
            }
            "PrefixFilter" => {
                a.count(&[1])?;
                Box::new(PrefixFilter::new(a.string(0)?))
            }
            "ColumnPrefixFilter" => {
                a.count(&[1])?;
                Box::new(ColumnPrefixFilter::new(a.string(0)?))
            }
            "InclusiveStopFilter" => {
                a.count(&[1])?;
                Box::new(InclusiveStopFilter::new(a.string(0)?))
            }
            "MultipleColumnPrefixFilter" => {
                let prefixes = (0..a.args.len()).map(|i| a.string(i)).collect::<Result<Vec<_>>>()?;
                Box::new(MultipleColumnPrefixFilter::new(prefixes).map_err(|e| self.error(name_pos, e.message()))?)
            }
            "ColumnCountGetFilter" => {
                a.count(&[1])?;
                Box::new(ColumnCountGetFilter::new(a.non_negative_int(0)?))
            }
            "PageFilter" => {
                a.count(&[1])?;
                let n = a.long(0)?;
                Box::new(PageFilter::new(n).map_err(|e| self.error(a.pos(0), e.message()))?)
            }
            "ColumnPaginationFilter" => {
                a.count(&[2])?;
                let limit = a.non_negative_int(0)?;
                if a.args.get(1).is_some_and(|x| x.quoted) {
                    Box::new(ColumnPaginationFilter::with_column_offset(limit, a.string(1)?))
                } else {
                    Box::new(ColumnPaginationFilter::new(limit, a.non_negative_int(1)?))
                }
            }
            "TimestampsFilter" => {
                let ts = (0..a.args.len()).map(|i| a.long(i)).collect::<Result<Vec<_>>>()?;
                if let Some(i) = ts.iter().position(|t| *t < 0) {
                    return Err(self.error(a.pos(i), "timestamps must be >= 0"));
                }
                Box::new(TimestampsFilter::new(ts).map_err(|e| self.error(name_pos, e.message()))?)
            }
            "RowFilter" | "FamilyFilter" | "QualifierFilter" | "ValueFilter" => {
                a.count(&[2])?;
                let (op, cmp) = a.op_and_comparator(0)?;
                match name {
                    "RowFilter" => Box::new(RowFilter::new(op, cmp)),
                    "FamilyFilter" => Box::new(FamilyFilter::new(op, cmp)),
                    "QualifierFilter" => Box::new(QualifierFilter::new(op, cmp)),
                    _ => Box::new(ValueFilter::new(op, cmp)),
                }
            }
            "ColumnRangeFilter" => {
                a.count(&[4])?;
                let bound = |v: Vec<u8>| if v.is_empty() { None } else { Some(v) };
                Box::new(ColumnRangeFilter::new(bound(a.string(0)?), a.boolean(1)?, bound(a.string(2)?), a.boolean(3)?))
            }
            "SingleColumnValueFilter" | "SingleColumnValueExcludeFilter" => {
                a.count(&[4, 6])?;
                let (family, qualifier) = (a.string(0)?, a.string(1)?);
                let (op, cmp) = a.op_and_comparator(2)?;
                let (if_missing, latest) = if a.args.len() == 6 { (a.boolean(4)?, a.boolean(5)?) } else { (false, true) };
                if name == "SingleColumnValueFilter" {
                    Box::new(
                        SingleColumnValueFilter::new(family, qualifier, op, cmp)
                            .with_filter_if_missing(if_missing)
                            .with_latest_version_only(latest),
                    )
                } else {
                    Box::new(
                        SingleColumnValueExcludeFilter::new(family, qualifier, op, cmp)
                            .with_filter_if_missing(if_missing)
                            .with_latest_version_only(latest),
                    )
                }
            }
            "RandomRowFilter" => {
                a.count(&[1])?;
                let chance = a.float(0)?;
                Box::new(RandomRowFilter::new(chance).map_err(|e| self.error(a.pos(0), e.message()))?)
            }
            _ => {
                return Err(self.error(
                    name_pos,
                    &format!("unknown filter name {name:?} (known: {})", FILTER_NAMES.join(", ")),
                ))
            }
        })
    }
}

/// A filter call's arguments, with typed accessors that report the argument's position.
struct Args<'p, 'a> {
    p: &'p Parser<'a>,
    name: &'p str,
    name_pos: usize,
    args: Vec<Arg>,
}

impl Args<'_, '_> {
    fn pos(&self, i: usize) -> usize {
        self.args.get(i).map_or(self.name_pos, |a| a.pos)
    }

    fn count(&self, allowed: &[usize]) -> Result<()> {
        if allowed.contains(&self.args.len()) {
            return Ok(());
        }
        let want = allowed.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" or ");
        Err(self.p.error(
            self.name_pos,
            &format!("{} takes {want} argument(s), got {}", self.name, self.args.len()),
        ))
    }

    fn get(&self, i: usize) -> Result<&Arg> {
        self.args.get(i).ok_or_else(|| self.p.error(self.name_pos, &format!("{} is missing argument {}", self.name, i + 1)))
    }

    fn string(&self, i: usize) -> Result<Vec<u8>> {
        let a = self.get(i)?;
        if !a.quoted {
            return Err(self.p.error(a.pos, &format!("argument {} of {} must be a quoted string", i + 1, self.name)));
        }
        Ok(a.bytes.clone())
    }

    fn bare(&self, i: usize, what: &str) -> Result<&Arg> {
        let a = self.get(i)?;
        if a.quoted {
            return Err(self.p.error(a.pos, &format!("argument {} of {} must be {what}, not a quoted string", i + 1, self.name)));
        }
        Ok(a)
    }

    fn boolean(&self, i: usize) -> Result<bool> {
        let a = self.bare(i, "true or false")?;
        if a.bytes.eq_ignore_ascii_case(b"true") {
            Ok(true)
        } else if a.bytes.eq_ignore_ascii_case(b"false") {
            Ok(false)
        } else {
            Err(self.p.error(a.pos, &format!("argument {} of {} must be true or false", i + 1, self.name)))
        }
    }

    fn long(&self, i: usize) -> Result<i64> {
        let a = self.bare(i, "a number")?;
        let digits = a.bytes.strip_prefix(b"-").unwrap_or(&a.bytes);
        let parsed = if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(&a.bytes).ok().and_then(|s| s.parse::<i64>().ok())
        } else {
            None
        };
        parsed.ok_or_else(|| {
            self.p.error(a.pos, &format!("argument {} of {} must be an integer that fits 64 bits", i + 1, self.name))
        })
    }

    fn non_negative_int(&self, i: usize) -> Result<u32> {
        let n = self.long(i)?;
        if n < 0 || n > i64::from(i32::MAX) {
            return Err(self.p.error(
                self.pos(i),
                &format!("argument {} of {} must be between 0 and {}", i + 1, self.name, i32::MAX),
            ));
        }
        u32::try_from(n).map_err(|_| self.p.error(self.pos(i), "integer out of range"))
    }

    fn float(&self, i: usize) -> Result<f32> {
        let a = self.bare(i, "a number")?;
        std::str::from_utf8(&a.bytes)
            .ok()
            .and_then(|s| s.parse::<f32>().ok())
            .filter(|f| !f.is_nan())
            .ok_or_else(|| self.p.error(a.pos, &format!("argument {} of {} must be a number", i + 1, self.name)))
    }

    fn op_and_comparator(&self, i: usize) -> Result<(CompareOperator, Comparator)> {
        let a = self.bare(i, "a compare operator (<, <=, =, !=, >=, >)")?;
        let op = CompareOperator::from_symbol(&a.bytes).ok_or_else(|| {
            self.p.error(a.pos, "expected a compare operator: <, <=, =, !=, >= or >")
        })?;
        let spec = self.string(i + 1)?;
        let cmp = Comparator::from_language(&spec).map_err(|e| self.p.error(self.pos(i + 1), e.message()))?;
        if cmp.is_pattern() && !matches!(op, CompareOperator::Equal | CompareOperator::NotEqual) {
            return Err(self.p.error(a.pos, "regexstring and substring comparators can only be used with = and !="));
        }
        Ok((op, cmp))
    }
}

/// `"{msg} at position {pos}: {input}"` and a caret under the failing byte on the next line;
/// long inputs are cut to a window around the position.
fn format_error(input: &[u8], pos: usize, msg: &str) -> String {
    const HALF: usize = 40;
    let pos = pos.min(input.len());
    let is_cont = |i: usize| input.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    let mut lo = pos.saturating_sub(HALF);
    while lo > 0 && is_cont(lo) {
        lo -= 1;
    }
    let mut hi = (pos + HALF).min(input.len());
    while hi < input.len() && is_cont(hi) {
        hi += 1;
    }
    let clean = |b: &[u8]| -> String {
        String::from_utf8_lossy(b).chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
    };
    let before = clean(input.get(lo..pos).unwrap_or_default());
    let after = clean(input.get(pos..hi).unwrap_or_default());
    let lead = if lo > 0 { "..." } else { "" };
    let tail = if hi < input.len() { "..." } else { "" };
    let head = format!("{msg} at position {pos}: ");
    let caret_col = head.chars().count() + lead.chars().count() + before.chars().count();
    format!("{head}{lead}{before}{after}{tail}\n{}^", " ".repeat(caret_col))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Cell;
    use crate::filter::scan_rows;
    use proptest::prelude::*;

    fn ok(s: &str) -> Box<dyn Filter> {
        match parse(s) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} failed: {}", e.message()),
        }
    }

    fn text(f: &dyn Filter) -> String {
        String::from_utf8_lossy(&f.filter_string().unwrap()).into_owned()
    }

    fn err(s: &str) -> (usize, String) {
        let e = match parse(s) {
            Ok(f) => panic!("{s:?} parsed as {f:?}"),
            Err(e) => e,
        };
        assert_eq!(e.code(), ErrorCode::FilterSyntax, "{s:?}");
        let m = e.message().to_string();
        let at = m.find(" at position ").expect("message names a position");
        let rest = &m[at + 13..];
        let pos: usize = rest[..rest.find(':').unwrap()].parse().unwrap();
        (pos, m)
    }

    #[test]
    fn every_filter_name_parses_and_prints_back() {
        let cases = [
            ("KeyOnlyFilter()", "KeyOnlyFilter()"),
            ("KeyOnlyFilter(TRUE)", "KeyOnlyFilter(true)"),
            ("FirstKeyOnlyFilter ( )", "FirstKeyOnlyFilter()"),
            ("PrefixFilter('row')", "PrefixFilter('row')"),
            ("ColumnPrefixFilter('c')", "ColumnPrefixFilter('c')"),
            ("MultipleColumnPrefixFilter('b','a')", "MultipleColumnPrefixFilter('a', 'b')"),
            ("ColumnCountGetFilter(4)", "ColumnCountGetFilter(4)"),
            ("PageFilter(10)", "PageFilter(10)"),
            ("ColumnPaginationFilter(3, 5)", "ColumnPaginationFilter(3, 5)"),
            ("ColumnPaginationFilter(3, 'q')", "ColumnPaginationFilter(3, 'q')"),
            ("InclusiveStopFilter('r9')", "InclusiveStopFilter('r9')"),
            ("TimestampsFilter(3, 1, 2)", "TimestampsFilter(1, 2, 3)"),
            ("TimestampsFilter()", "TimestampsFilter()"),
            ("RowFilter(<=, 'binary:r5')", "RowFilter(<=, 'binary:r5')"),
            ("FamilyFilter(=, 'binaryprefix:c')", "FamilyFilter(=, 'binaryprefix:c')"),
            ("QualifierFilter(!=, 'regexstring:^a.*')", "QualifierFilter(!=, 'regexstring:^a.*')"),
            ("ValueFilter(=, 'substring:ABC')", "ValueFilter(=, 'substring:abc')"),
            ("ValueFilter(>, 'binary:5')", "ValueFilter(>, 'binary:5')"),
            ("ColumnRangeFilter('a', true, 'c', false)", "ColumnRangeFilter('a', true, 'c', false)"),
            ("ColumnRangeFilter('', false, '', true)", "ColumnRangeFilter('', false, '', true)"),
            (
                "SingleColumnValueFilter('cf', 'q', >=, 'binary:5', true, false)",
                "SingleColumnValueFilter('cf', 'q', >=, 'binary:5', true, false)",
            ),
            (
                "SingleColumnValueFilter('cf', 'q', <, 'binary:5')",
                "SingleColumnValueFilter('cf', 'q', <, 'binary:5', false, true)",
            ),
            (
                "SingleColumnValueExcludeFilter('cf','q',=,'binary:x',False,True)",
                "SingleColumnValueExcludeFilter('cf', 'q', =, 'binary:x', false, true)",
            ),
            ("RandomRowFilter(0.25)", "RandomRowFilter(0.25)"),
        ];
        for name in FILTER_NAMES {
            assert!(cases.iter().any(|(s, _)| s.starts_with(name)), "no case for {name}");
        }
        for (input, printed) in cases {
            let f = ok(input);
            assert_eq!(text(f.as_ref()), printed, "{input}");
            assert_eq!(text(ok(printed).as_ref()), printed, "reparse of {printed}");
        }
    }

    #[test]
    fn precedence_skip_while_then_and_then_or() {
        let f = ok("PrefixFilter('a') OR PrefixFilter('b') AND KeyOnlyFilter()");
        assert_eq!(text(f.as_ref()), "(PrefixFilter('a') OR (PrefixFilter('b') AND KeyOnlyFilter()))");
        let f = ok("SKIP ValueFilter(=, 'binary:0') AND PrefixFilter('a')");
        assert_eq!(text(f.as_ref()), "(SKIP ValueFilter(=, 'binary:0') AND PrefixFilter('a'))");
        let f = ok("WHILE (PrefixFilter('a') OR PrefixFilter('b'))");
        assert_eq!(text(f.as_ref()), "WHILE (PrefixFilter('a') OR PrefixFilter('b'))");
        let f = ok("PrefixFilter('a') AND PrefixFilter('b') AND PrefixFilter('c') OR PageFilter(1) OR PageFilter(2)");
        assert_eq!(
            text(f.as_ref()),
            "((PrefixFilter('a') AND PrefixFilter('b') AND PrefixFilter('c')) OR PageFilter(1) OR PageFilter(2))",
            "chains flatten into one list, as HBase's parser builds them"
        );
        let f = ok("(PrefixFilter('a'))AND(SKIP WHILE KeyOnlyFilter())");
        assert_eq!(text(f.as_ref()), "(PrefixFilter('a') AND SKIP WHILE KeyOnlyFilter())");
    }

    #[test]
    fn precedence_changes_results() {
        // a1 has value x; b1 has value y. "Prefix a OR Prefix b AND Value=x" = a* OR (b* AND x).
        let rows = || {
            vec![
                (b"a1".to_vec(), vec![Cell::put("a1", "f", "q", 1, "y")]),
                (b"b1".to_vec(), vec![Cell::put("b1", "f", "q", 1, "y")]),
                (b"b2".to_vec(), vec![Cell::put("b2", "f", "q", 1, "x")]),
            ]
        };
        let keys = |s: &str| -> Vec<Vec<u8>> {
            let mut f = ok(s);
            scan_rows(f.as_mut(), rows()).map(|(k, _)| k).collect()
        };
        assert_eq!(keys("PrefixFilter('a') OR PrefixFilter('b') AND ValueFilter(=, 'binary:x')"), [b"a1".to_vec(), b"b2".to_vec()]);
        assert_eq!(keys("(PrefixFilter('a') OR PrefixFilter('b')) AND ValueFilter(=, 'binary:x')"), [b"b2".to_vec()]);
    }

    #[test]
    fn quotes_escape_by_doubling() {
        let f = ok("PrefixFilter('it''s')");
        assert_eq!(text(f.as_ref()), "PrefixFilter('it''s')");
        let mut f = ok("ValueFilter(=, 'binary:a''b''''')");
        let kept = crate::filter::apply_row(f.as_mut(), b"r", vec![Cell::put("r", "f", "q", 1, "a'b''")]);
        assert!(kept.is_some());
        let f = ok("PrefixFilter('')");
        assert_eq!(text(f.as_ref()), "PrefixFilter('')");
        let f = ok("PrefixFilter('a, b) AND OR')");
        assert_eq!(text(f.as_ref()), "PrefixFilter('a, b) AND OR')");
        let f = ok("PrefixFilter('''')");
        assert_eq!(f.filter_string().unwrap(), b"PrefixFilter('''')");
        let mut f = ok("PrefixFilter('''')");
        assert!(crate::filter::apply_row(f.as_mut(), b"'x", vec![Cell::put("'x", "f", "q", 1, "v")]).is_some());
        assert!(crate::filter::apply_row(f.as_mut(), b"x", vec![Cell::put("x", "f", "q", 1, "v")]).is_none());
    }

    #[test]
    fn non_utf8_arguments_are_bytes() {
        let mut input = b"PrefixFilter('".to_vec();
        input.extend_from_slice(&[0xff, 0x00, 0x80]);
        input.extend_from_slice(b"')");
        let f = parse_bytes(&input).unwrap();
        assert_eq!(f.filter_string().unwrap(), input);
    }

    #[test]
    fn error_positions() {
        let cases: &[(&str, usize, &str)] = &[
            ("PrefixFilter('a' 'b')", 17, "expected ',' or ')'"),
            ("PrefixFilter('a'", 16, "expected ',' or ')'"),
            ("PrefixFilter('abc)", 13, "unterminated quoted string"),
            ("NoSuchFilter('a')", 0, "unknown filter name"),
            ("  Pr\u{e9}fixFilter('a')", 2, "unknown filter name"),
            ("PrefixFilter('a') AND", 21, "unexpected end"),
            ("PrefixFilter('a') XOR PrefixFilter('b')", 18, "expected AND, OR"),
            ("(PrefixFilter('a')", 18, "expected ')'"),
            ("PrefixFilter('a'))", 17, "expected AND, OR"),
            ("PrefixFilter 'a'", 13, "expected '('"),
            ("ValueFilter(==, 'binary:a')", 12, "compare operator"),
            ("ValueFilter(=, 'nope:a')", 15, "unknown comparator type"),
            ("ValueFilter(=, 'binary')", 15, "type:value"),
            ("ValueFilter(<, 'substring:a')", 12, "only be used with = and !="),
            ("ValueFilter(=, 'regexstring:(')", 15, "invalid regular expression"),
            ("ValueFilter(=, binary:a)", 15, "quoted string"),
            ("PageFilter('10')", 11, "not a quoted string"),
            ("PageFilter(-1)", 11, ">= 0"),
            ("PageFilter(1x)", 11, "integer"),
            ("PageFilter(99999999999999999999)", 11, "integer"),
            ("PageFilter(1, 2)", 0, "takes 1 argument"),
            ("ColumnRangeFilter('a', yes, 'c', false)", 23, "true or false"),
            ("SingleColumnValueFilter('f', 'q', =, 'binary:1', true)", 0, "takes 4 or 6"),
            ("TimestampsFilter(1, -2)", 20, ">= 0"),
            ("MultipleColumnPrefixFilter('a', 'a')", 0, "distinct"),
            ("ColumnCountGetFilter(3000000000)", 21, "between 0 and"),
            ("PrefixFilter(,)", 13, "expected an argument"),
            ("", 0, "empty filter string"),
            ("   ", 3, "empty filter string"),
            ("AND PrefixFilter('a')", 0, "expected a filter name"),
            ("SKIP", 4, "unexpected end"),
            ("KeyOnlyFilter(maybe)", 14, "true or false"),
            ("RandomRowFilter(NaN)", 16, "must be a number"),
        ];
        for (input, pos, needle) in cases {
            let (got, msg) = err(input);
            assert_eq!(got, *pos, "{input:?}: {msg}");
            assert!(msg.contains(needle), "{input:?}: {msg}");
        }
    }

    #[test]
    fn error_caret_points_at_the_position() {
        let e = parse("PrefixFilter('a' 'b')").unwrap_err();
        let msg = e.message();
        let mut lines = msg.lines();
        let first = lines.next().unwrap();
        let caret = lines.next().unwrap();
        assert!(first.starts_with("expected ',' or ')' at position 17: PrefixFilter('a' 'b')"));
        let col = caret.find('^').unwrap();
        assert_eq!(&first[col..col + 3], "'b'");
        // Long inputs get a window around the position.
        let long = format!("{} AND PrefixFilter('x' 'y')", vec!["KeyOnlyFilter()"; 20].join(" AND "));
        let e = parse(&long).unwrap_err();
        let msg = e.message();
        let first = msg.lines().next().unwrap();
        let col = msg.lines().nth(1).unwrap().find('^').unwrap();
        assert!(first.contains("..."));
        assert_eq!(first.chars().nth(col), Some('\''));
        assert!(first.len() < 200);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}PrefixFilter('a'){}", "(".repeat(10_000), ")".repeat(10_000));
        let (_, msg) = err(&deep);
        assert!(msg.contains("nested deeper"));
        let skips = format!("{}PrefixFilter('a')", "SKIP ".repeat(10_000));
        assert!(parse(&skips).is_err());
        let ok_depth = format!("{}PrefixFilter('a'){}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&ok_depth).is_ok());
    }

    #[test]
    fn keywords_need_word_boundaries() {
        assert!(parse("PrefixFilter('a') ANDPrefixFilter('b')").is_err());
        assert!(parse("PrefixFilter('a') and PrefixFilter('b')").is_err(), "keywords are upper-case");
        assert!(parse("prefixfilter('a')").is_err(), "names are case-sensitive");
        assert!(parse("PrefixFilter('a')\tOR\nPrefixFilter('b')").is_ok());
    }

    #[test]
    fn parsed_filters_behave() {
        let mut f = ok("SingleColumnValueFilter('cf', 'q', >=, 'binary:5', true, false)");
        let row = |v: &str| vec![Cell::put("r", "cf", "q", 1, v)];
        assert!(crate::filter::apply_row(f.as_mut(), b"r", row("7")).is_some());
        assert!(crate::filter::apply_row(f.as_mut(), b"r", row("3")).is_none());
        assert!(crate::filter::apply_row(f.as_mut(), b"r", vec![Cell::put("r", "cf", "other", 1, "9")]).is_none(), "filterIfMissing");
    }

    // ---- property tests ----

    fn bytes_arg() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b'\''), Just(b'a'), Just(b','), Just(b')'), Just(b' '), any::<u8>()], 0..6)
    }

    fn op() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("<"), Just("<="), Just("="), Just("!="), Just(">="), Just(">")]
    }

    fn leaf() -> impl Strategy<Value = Vec<u8>> {
        let q = |b: Vec<u8>| quote(&b);
        prop_oneof![
            bytes_arg().prop_map(move |b| call("PrefixFilter", &[q(b)])),
            bytes_arg().prop_map(move |b| call("ColumnPrefixFilter", &[q(b)])),
            bytes_arg().prop_map(move |b| call("InclusiveStopFilter", &[q(b)])),
            (op(), bytes_arg()).prop_map(move |(o, b)| {
                let mut c = b"binary:".to_vec();
                c.extend(b);
                call("ValueFilter", &[o.as_bytes().to_vec(), q(c)])
            }),
            (op(), bytes_arg()).prop_map(move |(o, b)| {
                let mut c = b"binaryprefix:".to_vec();
                c.extend(b);
                call("RowFilter", &[o.as_bytes().to_vec(), q(c)])
            }),
            "[a-z]{0,4}".prop_map(move |s| call("QualifierFilter", &[b"!=".to_vec(), q(format!("substring:{s}").into_bytes())])),
            (0u32..50).prop_map(|n| call("PageFilter", &[n.to_string().into_bytes()])),
            (0u32..50, 0u32..50).prop_map(|(a, b)| call("ColumnPaginationFilter", &[a.to_string().into_bytes(), b.to_string().into_bytes()])),
            prop::collection::btree_set(0i64..1000, 0..4).prop_map(|ts| {
                call("TimestampsFilter", &ts.iter().map(|t| t.to_string().into_bytes()).collect::<Vec<_>>())
            }),
            (bytes_arg(), any::<bool>(), bytes_arg(), any::<bool>()).prop_map(move |(a, ai, b, bi)| {
                let t = |v: bool| if v { b"true".to_vec() } else { b"false".to_vec() };
                call("ColumnRangeFilter", &[q(a), t(ai), q(b), t(bi)])
            }),
            Just(call("KeyOnlyFilter", &[])),
            Just(call("FirstKeyOnlyFilter", &[])),
            (bytes_arg(), bytes_arg(), op(), any::<bool>(), any::<bool>()).prop_map(move |(f, qq, o, m, l)| {
                let t = |v: bool| if v { b"true".to_vec() } else { b"false".to_vec() };
                call("SingleColumnValueFilter", &[q(f), q(qq), o.as_bytes().to_vec(), q(b"binary:5".to_vec()), t(m), t(l)])
            }),
        ]
    }

    fn expr() -> impl Strategy<Value = Vec<u8>> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(|v| join(&v, b" AND ")),
                prop::collection::vec(inner.clone(), 2..4).prop_map(|v| join(&v, b" OR ")),
                inner.clone().prop_map(|e| [b"SKIP ".to_vec(), e].concat()),
                inner.prop_map(|e| [b"WHILE ".to_vec(), e].concat()),
            ]
        })
    }

    fn join(parts: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
        let mut out = b"(".to_vec();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(sep);
            }
            out.extend_from_slice(p);
        }
        out.push(b')');
        out
    }

    fn sample_rows() -> Vec<(Vec<u8>, Vec<Cell>)> {
        (0..6u8)
            .map(|i| {
                let key = vec![b'a' + i % 3, b'\'', i];
                let cells = (0..3u8)
                    .flat_map(|q| (0..2i64).map(move |ts| (q, ts)))
                    .map(|(q, ts)| Cell::put(key.clone(), "f", vec![b'a' + q], 2 - ts, vec![b'0' + (i + q) % 10]))
                    .collect();
                (key, cells)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        /// Random input never panics; it parses or gives a FilterSyntax error.
        #[test]
        fn random_strings_never_panic(s in "\\PC{0,60}") {
            if let Err(e) = parse(&s) {
                prop_assert_eq!(e.code(), ErrorCode::FilterSyntax);
            }
        }

        /// Random bytes built from the language's own tokens never panic either.
        #[test]
        fn random_token_soup_never_panics(parts in prop::collection::vec(prop_oneof![
            Just("PrefixFilter"), Just("ValueFilter"), Just("SingleColumnValueFilter"), Just("("), Just(")"),
            Just("'"), Just("''"), Just(","), Just(" "), Just("AND"), Just("OR"), Just("SKIP"), Just("WHILE"),
            Just("="), Just("'binary:x'"), Just("true"), Just("-"), Just("9"), Just("\u{e9}"), Just("\0"),
        ], 0..30)) {
            let s: String = parts.concat();
            if let Err(e) = parse(&s) {
                prop_assert_eq!(e.code(), ErrorCode::FilterSyntax);
                prop_assert!(e.message().contains(" at position "));
            }
        }

        /// parse(filter_string(parse(s))) prints the same text and filters rows the same way.
        #[test]
        fn filter_string_round_trips(s in expr()) {
            let f = parse_bytes(&s).map_err(|e| TestCaseError::fail(e.message().to_string()))?;
            let printed = f.filter_string().ok_or_else(|| TestCaseError::fail("no filter string"))?;
            let mut g = parse_bytes(&printed).map_err(|e| TestCaseError::fail(e.message().to_string()))?;
            prop_assert_eq!(g.filter_string(), Some(printed.clone()));
            let mut f = f;
            let a: Vec<_> = scan_rows(f.as_mut(), sample_rows()).collect();
            let b: Vec<_> = scan_rows(g.as_mut(), sample_rows()).collect();
            prop_assert_eq!(a, b);
        }
    }
}
