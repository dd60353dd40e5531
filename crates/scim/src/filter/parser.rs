//! A recursive-descent parser for the RFC 7644 §3.4.2.2 filter grammar, with bounded depth.
//!
//! Tolerances beyond the ABNF, each for a client seen in the wild: operators, `and`/`or`/`not` and
//! the literals `true`/`false`/`null` in any case (ABNF strings are case-insensitive anyway);
//! whitespace other than a single space between tokens; an unquoted word as a string value
//! (Microsoft's documentation filters `externalId eq jyoung`); and a sub-attribute test after a
//! value path (`emails[type eq "work"].value eq "x"`, which Entra uses for uniqueness checks).

use super::ast::{CompValue, CompareOp, Filter};
use super::lexer::{Tok, Token};
use crate::error::ScimError;
use crate::path::AttrPath;

pub(crate) struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    end: usize,
    max_depth: usize,
}

impl<'t> Parser<'t> {
    pub(crate) fn new(tokens: &'t [Token], input_len: usize, max_depth: usize) -> Self {
        Self { tokens, at: 0, end: input_len, max_depth }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.at)
    }

    fn peek_tok(&self) -> Option<&'t Tok> {
        self.peek().map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<&'t Token> {
        let t = self.tokens.get(self.at);
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "the end of the filter".into(), |t| t.tok.describe())
    }

    fn peek_keyword(&self, word: &str) -> bool {
        matches!(self.peek_tok(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ScimError> {
        if self.peek_tok() == Some(&tok) {
            self.at += 1;
            Ok(())
        } else {
            Err(ScimError::invalid_filter(format!(
                "expected {what} at position {}, found {}",
                self.pos(),
                self.found()
            )))
        }
    }

    /// Parses the whole input as one filter.
    pub(crate) fn parse_all(&mut self) -> Result<Filter, ScimError> {
        if self.tokens.is_empty() {
            return Err(ScimError::invalid_filter("the filter is empty"));
        }
        let f = self.parse_or(1, false)?;
        if self.peek().is_some() {
            return Err(ScimError::invalid_filter(format!(
                "expected 'and', 'or' or the end of the filter at position {}, found {}",
                self.pos(),
                self.found()
            )));
        }
        Ok(f)
    }

    fn check_depth(&self, depth: usize) -> Result<(), ScimError> {
        if depth > self.max_depth {
            return Err(ScimError::invalid_filter(format!(
                "the filter nests deeper than {} levels at position {}",
                self.max_depth,
                self.pos()
            )));
        }
        Ok(())
    }

    fn parse_or(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        self.check_depth(depth)?;
        let mut items = vec![self.parse_and(depth, in_brackets)?];
        while self.peek_keyword("or") {
            self.at += 1;
            items.push(self.parse_and(depth, in_brackets)?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Filter::And(vec![])) } else { Filter::Or(items) })
    }

    fn parse_and(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        let mut items = vec![self.parse_factor(depth, in_brackets)?];
        while self.peek_keyword("and") {
            self.at += 1;
            items.push(self.parse_factor(depth, in_brackets)?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Filter::And(vec![])) } else { Filter::And(items) })
    }

    fn parse_factor(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        match self.peek_tok() {
            Some(Tok::LParen) => {
                self.at += 1;
                let inner = self.parse_or(depth + 1, in_brackets)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("not")
                    && self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::LParen) =>
            {
                self.at += 2;
                let inner = self.parse_or(depth + 1, in_brackets)?;
                self.expect(Tok::RParen, "')' closing 'not ('")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Tok::Word(_)) => self.parse_attr_expression(depth, in_brackets),
            _ => Err(ScimError::invalid_filter(format!(
                "expected an attribute name, '(' or 'not (' at position {}, found {}",
                self.pos(),
                self.found()
            ))),
        }
    }

    fn parse_path(&mut self) -> Result<(AttrPath, usize), ScimError> {
        let pos = self.pos();
        let Some(Token { tok: Tok::Word(w), .. }) = self.next() else {
            return Err(ScimError::invalid_filter(format!("expected an attribute name at position {pos}")));
        };
        let path = AttrPath::parse(w)
            .map_err(|e| ScimError::invalid_filter(format!("invalid attribute path at position {pos}: {e}")))?;
        Ok((path, pos))
    }

    fn parse_attr_expression(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        let (path, _) = self.parse_path()?;
        if self.peek_tok() == Some(&Tok::LBracket) {
            if in_brackets {
                return Err(ScimError::invalid_filter(format!(
                    "a value filter cannot contain another value filter (position {})",
                    self.pos()
                )));
            }
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'[' at position {} must follow an attribute, not a sub-attribute ('{path}')",
                    self.pos()
                )));
            }
            self.at += 1;
            self.check_depth(depth + 1)?;
            let inner = self.parse_or(depth + 1, true)?;
            self.expect(Tok::RBracket, "']'")?;
            let then = if self.peek_tok() == Some(&Tok::Dot) {
                self.at += 1;
                let (sub, sub_pos) = self.parse_path()?;
                if sub.urn.is_some() || sub.sub.is_some() {
                    return Err(ScimError::invalid_filter(format!(
                        "expected a sub-attribute name after '].' at position {sub_pos}"
                    )));
                }
                Some(Box::new(self.parse_test(sub)?))
            } else {
                None
            };
            return Ok(Filter::ValuePath { path, filter: Box::new(inner), then });
        }
        self.parse_test(path)
    }

    /// After a path: `pr`, or an operator and a value.
    fn parse_test(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let pos = self.pos();
        let op = match self.peek_tok() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                self.at += 1;
                return Ok(Filter::Present(path));
            }
            Some(Tok::Word(w)) => CompareOp::parse(w),
            _ => None,
        };
        let Some(op) = op else {
            return Err(ScimError::invalid_filter(format!(
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{path}' at position {pos}, found {}",
                self.found()
            )));
        };
        self.at += 1;
        let value = self.parse_value(&path, op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, path: &AttrPath, op: CompareOp) -> Result<CompValue, ScimError> {
        let pos = self.pos();
        let value = match self.peek_tok() {
            Some(Tok::Str(s)) => CompValue::String(s.clone()),
            Some(Tok::Num(n)) => CompValue::Number(n.clone()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some(Tok::Word(w))
                if !["and", "or", "not", "pr"].iter().any(|k| w.eq_ignore_ascii_case(k))
                    && CompareOp::parse(w).is_none() =>
            {
                CompValue::String(w.clone())
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value after '{path} {}' at position {pos}, found {}",
                    op.as_str(),
                    self.found()
                )));
            }
        };
        self.at += 1;
        Ok(value)
    }
}

impl Parser<'_> {
    /// Parses a PATCH path: `attrPath`, or `attrPath "[" valFilter "]" ["." subAttr]` (RFC 7644 §3.5.2).
    pub(crate) fn parse_patch_path(&mut self) -> Result<(AttrPath, Option<Filter>, Option<String>), ScimError> {
        if self.tokens.is_empty() {
            return Err(ScimError::invalid_filter("the path is empty"));
        }
        let (path, _) = self.parse_path()?;
        let mut filter = None;
        let mut sub = None;
        if self.peek_tok() == Some(&Tok::LBracket) {
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'[' at position {} must follow an attribute, not a sub-attribute ('{path}')",
                    self.pos()
                )));
            }
            self.at += 1;
            self.check_depth(2)?;
            filter = Some(self.parse_or(2, true)?);
            self.expect(Tok::RBracket, "']'")?;
            if self.peek_tok() == Some(&Tok::Dot) {
                self.at += 1;
                let (s, pos) = self.parse_path()?;
                if s.urn.is_some() || s.sub.is_some() {
                    return Err(ScimError::invalid_filter(format!("expected a sub-attribute name at position {pos}")));
                }
                sub = Some(s.name);
            }
        }
        if self.peek().is_some() {
            return Err(ScimError::invalid_filter(format!(
                "unexpected {} at position {} after the path",
                self.found(),
                self.pos()
            )));
        }
        Ok((path, filter, sub))
    }
}
