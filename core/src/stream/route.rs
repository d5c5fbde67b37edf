//! Route rules: which cells of a table go to which topics.
//!
//! Modelled on the hbase-connectors Kafka proxy's `kafka-route-rules.xml` (facts: apache/hbase-connectors
//! `kafka/README.md`): each rule is `route` or `drop` and names a table, optionally a column family
//! and a qualifier, and (for `route`) one or more topics. Drop rules are checked first: a cell any
//! drop rule matches goes nowhere. Otherwise the cell goes to the topics of every route rule it
//! matches (one cell may reach several topics); a cell no rule matches goes nowhere. A stream
//! without rules routes every cell to its own topic.
//!
//! Patterns allow a `*` wildcard at the start, at the end, or both (`*` alone matches anything);
//! a `*` anywhere else is refused. Table patterns match the full `namespace:table` name; a pattern
//! without a namespace means the `default` namespace (as a table name does).

use crate::error::{Error, ErrorCode, Result};

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteAction {
    /// Send matching cells to the rule's topics.
    Route,
    /// Send matching cells nowhere (checked before every route rule).
    Drop,
}

impl RouteAction {
    /// `"route"` or `"drop"`.
    pub fn name(self) -> &'static str {
        match self {
            RouteAction::Route => "route",
            RouteAction::Drop => "drop",
        }
    }

    /// Parse `"route"` or `"drop"` (case-insensitive).
    pub fn parse(s: &str) -> Result<RouteAction> {
        match s.to_ascii_lowercase().as_str() {
            "route" => Ok(RouteAction::Route),
            "drop" => Ok(RouteAction::Drop),
            _ => Err(Error::new(ErrorCode::InvalidConfig, format!("route action must be \"route\" or \"drop\", not {s:?}"))),
        }
    }
}

/// A name pattern: exact, `prefix*`, `*suffix`, `*infix*` or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: Vec<u8>,
    kind: PatternKind,
    core: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PatternKind {
    Any,
    Exact,
    Prefix,
    Suffix,
    Contains,
}

impl Pattern {
    /// Parse a pattern; a `*` other than the first or last byte is an error.
    pub fn parse(text: impl AsRef<[u8]>) -> Result<Pattern> {
        let text = text.as_ref();
        let starts = text.first() == Some(&b'*');
        let ends = text.len() > 1 && text.last() == Some(&b'*');
        let lo = usize::from(starts);
        let hi = text.len() - usize::from(ends);
        let core = text.get(lo..hi.max(lo)).unwrap_or_default().to_vec();
        if core.contains(&b'*') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("pattern {:?}: a '*' wildcard may only be the first or last character", String::from_utf8_lossy(text)),
            ));
        }
        let kind = match (starts, ends) {
            (true, _) if core.is_empty() => PatternKind::Any,
            (false, false) => PatternKind::Exact,
            (false, true) => PatternKind::Prefix,
            (true, false) => PatternKind::Suffix,
            (true, true) => PatternKind::Contains,
        };
        Ok(Pattern { text: text.to_vec(), kind, core })
    }

    /// The pattern as written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &[u8]) -> bool {
        match self.kind {
            PatternKind::Any => true,
            PatternKind::Exact => name == self.core.as_slice(),
            PatternKind::Prefix => name.starts_with(&self.core),
            PatternKind::Suffix => name.ends_with(&self.core),
            PatternKind::Contains => name.windows(self.core.len().max(1)).any(|w| w == self.core.as_slice()) || self.core.is_empty(),
        }
    }
}

/// One rule. Build with [`RouteRule::route`] or [`RouteRule::drop`], narrow with
/// [`RouteRule::family`] and [`RouteRule::qualifier`].
///
/// ```
/// use kabase::stream::{RouteRule, RouteRules};
/// let rules = RouteRules::new(vec![
///     RouteRule::drop("orders").family("cf").qualifier("secret*"),
///     RouteRule::route("orders", ["orders-all"]),
///     RouteRule::route("orders", ["orders-cf"]).family("cf"),
/// ]).unwrap();
/// assert_eq!(rules.topics_for("default:orders", b"cf", b"amount", "fallback"), vec!["orders-all", "orders-cf"]);
/// assert!(rules.topics_for("default:orders", b"cf", b"secret_pin", "fallback").is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Route or drop.
    pub action: RouteAction,
    /// Table pattern (`ns:table`, a bare name means the `default` namespace).
    pub table: String,
    /// Family pattern; `None` = every family.
    pub family: Option<Vec<u8>>,
    /// Qualifier pattern; `None` = every qualifier.
    pub qualifier: Option<Vec<u8>>,
    /// Topics of a route rule; empty = the stream's own topic. Ignored for drop rules.
    pub topics: Vec<String>,
}

impl RouteRule {
    /// A rule sending the table's cells to `topics` (empty = the stream's topic).
    pub fn route<I, S>(table: impl Into<String>, topics: I) -> RouteRule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RouteRule {
            action: RouteAction::Route,
            table: table.into(),
            family: None,
            qualifier: None,
            topics: topics.into_iter().map(Into::into).collect(),
        }
    }

    /// A rule dropping the table's cells.
    pub fn drop(table: impl Into<String>) -> RouteRule {
        RouteRule { action: RouteAction::Drop, table: table.into(), family: None, qualifier: None, topics: Vec::new() }
    }

    /// Only cells of families matching `pattern`.
    pub fn family(mut self, pattern: impl Into<Vec<u8>>) -> RouteRule {
        self.family = Some(pattern.into());
        self
    }

    /// Only cells whose qualifier matches `pattern`.
    pub fn qualifier(mut self, pattern: impl Into<Vec<u8>>) -> RouteRule {
        self.qualifier = Some(pattern.into());
        self
    }
}

#[derive(Debug, Clone)]
struct CompiledRule {
    action: RouteAction,
    table: Pattern,
    family: Option<Pattern>,
    qualifier: Option<Pattern>,
    topics: Vec<String>,
}

impl CompiledRule {
    fn matches(&self, table: &str, family: &[u8], qualifier: &[u8]) -> bool {
        self.table.matches(table.as_bytes())
            && self.family.as_ref().is_none_or(|p| p.matches(family))
            && self.qualifier.as_ref().is_none_or(|p| p.matches(qualifier))
    }
}

/// A validated rule set. With no rules, every cell goes to the stream's topic.
#[derive(Debug, Clone, Default)]
pub struct RouteRules {
    rules: Vec<RouteRule>,
    compiled: Vec<CompiledRule>,
}

impl RouteRules {
    /// Validate and compile `rules`: every pattern must be well formed and a route rule's topics
    /// must be valid topic names.
    pub fn new(rules: Vec<RouteRule>) -> Result<RouteRules> {
        let mut compiled = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            if r.table.is_empty() {
                return Err(Error::new(ErrorCode::InvalidConfig, format!("route rule {i}: the table pattern is empty")));
            }
            let table_text = if r.table.contains(':') || r.table == "*" { r.table.clone() } else { format!("default:{}", r.table) };
            for t in &r.topics {
                validate_topic_name(t).map_err(|e| Error::new(e.code(), format!("route rule {i}: {}", e.message())))?;
            }
            compiled.push(CompiledRule {
                action: r.action,
                table: Pattern::parse(&table_text)?,
                family: r.family.as_ref().map(Pattern::parse).transpose()?,
                qualifier: r.qualifier.as_ref().map(Pattern::parse).transpose()?,
                topics: r.topics.clone(),
            });
        }
        Ok(RouteRules { rules, compiled })
    }

    /// The rules as given.
    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }

    /// Whether there are no rules (everything goes to the stream's topic).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The topics a cell of `table` (full `ns:table` name) goes to, in rule order without
    /// duplicates; `default_topic` stands for a route rule without topics and for an empty rule set.
    pub fn topics_for(&self, table: &str, family: &[u8], qualifier: &[u8], default_topic: &str) -> Vec<String> {
        if self.compiled.is_empty() {
            return vec![default_topic.to_string()];
        }
        if self.compiled.iter().any(|r| r.action == RouteAction::Drop && r.matches(table, family, qualifier)) {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for r in self.compiled.iter().filter(|r| r.action == RouteAction::Route && r.matches(table, family, qualifier)) {
            if r.topics.is_empty() && !out.iter().any(|t| t == default_topic) {
                out.push(default_topic.to_string());
            }
            for t in &r.topics {
                if !out.iter().any(|o| o == t) {
                    out.push(t.clone());
                }
            }
        }
        out
    }
}

/// Kafka's topic naming rule: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`
/// (Kafka `Topic.validate`).
pub fn validate_topic_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 249 || name == "." || name == ".." {
        return Err(Error::new(ErrorCode::InvalidName, format!("topic name {name:?} must be 1 to 249 characters and not \".\" or \"..\"")));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(Error::new(ErrorCode::InvalidName, format!("topic name {name:?} contains {c:?}; allowed are ASCII letters, digits, '.', '_' and '-'")));
    }
    Ok(())
}

/// The default topic of a table's stream: `ns.table` with `:` replaced, e.g. `default.orders`
/// (a `:` is not allowed in topic names). Characters outside Kafka's topic alphabet become `_`.
pub fn default_topic_for(table: &str) -> String {
    let full = if table.contains(':') { table.to_string() } else { format!("default:{table}") };
    full.chars()
        .map(|c| if c == ':' { '.' } else if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .take(249)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = |s: &str| Pattern::parse(s).unwrap();
        assert!(p("*").matches(b""));
        assert!(p("*").matches(b"abc"));
        assert!(p("abc").matches(b"abc"));
        assert!(!p("abc").matches(b"abcd"));
        assert!(p("ab*").matches(b"abcd"));
        assert!(!p("ab*").matches(b"xabcd"));
        assert!(p("*cd").matches(b"abcd"));
        assert!(!p("*cd").matches(b"abcde"));
        assert!(p("*bc*").matches(b"abcd"));
        assert!(!p("*bx*").matches(b"abcd"));
        assert!(p("").matches(b""));
        assert!(!p("").matches(b"a"));
        let e = Pattern::parse("a*b").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e.message().contains("first or last"));
        assert!(Pattern::parse("**").is_ok());
        assert!(Pattern::parse("*a*b*").is_err());
    }

    #[test]
    fn drop_rules_win_and_cells_fan_out() {
        let rules = RouteRules::new(vec![
            RouteRule::route("t", ["all"]),
            RouteRule::route("t", ["cf-only", "all"]).family("cf"),
            RouteRule::route("t", Vec::<String>::new()).qualifier("*_id"),
            RouteRule::drop("t").family("cf").qualifier("tmp*"),
            RouteRule::route("ns:*", ["ns-topic"]),
        ])
        .unwrap();
        assert_eq!(rules.topics_for("default:t", b"cf", b"a", "dflt"), vec!["all", "cf-only"]);
        assert_eq!(rules.topics_for("default:t", b"other", b"user_id", "dflt"), vec!["all", "dflt"]);
        assert!(rules.topics_for("default:t", b"cf", b"tmp1", "dflt").is_empty());
        // The drop rule is narrowed to family cf: other families still route.
        assert_eq!(rules.topics_for("default:t", b"x", b"tmp1", "dflt"), vec!["all"]);
        assert_eq!(rules.topics_for("ns:orders", b"cf", b"a", "dflt"), vec!["ns-topic"]);
        // No rule matches: nowhere.
        assert!(rules.topics_for("default:u", b"cf", b"a", "dflt").is_empty());
        // No rules: everything to the stream's topic.
        assert_eq!(RouteRules::default().topics_for("default:u", b"cf", b"a", "dflt"), vec!["dflt"]);
    }

    #[test]
    fn bad_rules_are_refused() {
        assert_eq!(RouteRules::new(vec![RouteRule::route("t", ["bad topic"])]).unwrap_err().code(), ErrorCode::InvalidName);
        assert_eq!(RouteRules::new(vec![RouteRule::route("", ["x"])]).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(RouteRules::new(vec![RouteRule::drop("t").qualifier("a*b")]).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(RouteAction::parse("ROUTE").unwrap(), RouteAction::Route);
        assert!(RouteAction::parse("keep").is_err());
    }

    #[test]
    fn default_topic_names() {
        assert_eq!(default_topic_for("orders"), "default.orders");
        assert_eq!(default_topic_for("ns:t"), "ns.t");
        validate_topic_name(&default_topic_for("ns:t")).unwrap();
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }
}
