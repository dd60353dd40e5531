//! The filter tokenizer (RFC 7644 §3.4.2.2 ABNF tokens), with byte positions for error messages.

use crate::error::ScimError;
use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A `.` that does not belong to a word: the one after `]` in `emails[...].value`.
    Dot,
    /// An attribute path, an operator or a keyword; the parser decides which by position.
    Word(String),
    Str(String),
    Num(Number),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

impl Tok {
    /// How a token is named in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Word(w) => format!("'{}'", shorten(w)),
            Tok::Str(_) => "a string".into(),
            Tok::Num(_) => "a number".into(),
        }
    }
}

fn shorten(w: &str) -> String {
    if w.chars().count() > 40 { format!("{}…", w.chars().take(40).collect::<String>()) } else { w.to_owned() }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$' || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '$' | '_' | '-' | ':' | '.')
}

/// Splits `input` into tokens.
///
/// # Errors
/// `invalidFilter` naming the position of an unterminated or malformed string, a malformed number,
/// or a character that cannot start a token.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = Vec::new();
    let bytes = input.as_bytes();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' | '.' => {
                chars.next();
                let tok = match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Dot,
                };
                out.push(Token { tok, pos });
            }
            '"' => {
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, ch) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(ScimError::invalid_filter(format!("unterminated string starting at position {pos}")));
                };
                let literal = &input[pos..=end];
                let s: String = serde_json::from_str(literal).map_err(|_| {
                    ScimError::invalid_filter(format!(
                        "invalid escape or control character in the string at position {pos}"
                    ))
                })?;
                out.push(Token { tok: Tok::Str(s), pos });
            }
            c if c == '-' || c.is_ascii_digit() => {
                let mut end = pos;
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '+' | '.') {
                        end = i + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let text = &input[pos..end];
                if !is_json_number(text.as_bytes()) {
                    return Err(ScimError::invalid_filter(format!(
                        "'{}' at position {pos} is not a number",
                        shorten(text)
                    )));
                }
                let n = parse_number(text).ok_or_else(|| {
                    ScimError::invalid_filter(format!("number '{}' at position {pos} is out of range", shorten(text)))
                })?;
                out.push(Token { tok: Tok::Num(n), pos });
            }
            c if is_word_start(c) => {
                let mut end = pos;
                while let Some(&(i, ch)) = chars.peek() {
                    if is_word_char(ch) {
                        end = i + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                // A word never ends with '.', so that `emails[...]` followed by `.value` and a
                // path followed by a stray dot are told apart by the parser.
                let mut word_end = end;
                while word_end > pos && bytes.get(word_end - 1) == Some(&b'.') {
                    word_end -= 1;
                }
                out.push(Token { tok: Tok::Word(input[pos..word_end].to_owned()), pos });
                for dot in word_end..end {
                    out.push(Token { tok: Tok::Dot, pos: dot });
                }
            }
            other => {
                return Err(ScimError::invalid_filter(format!("unexpected character '{other}' at position {pos}")));
            }
        }
    }
    Ok(out)
}

/// Parses a JSON number exactly: integers as integers, everything else with Rust's correctly
/// rounded `f64` parser (serde_json's default float parsing is not, and printing then parsing a
/// filter must give back the same value).
fn parse_number(text: &str) -> Option<Number> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(Number::from(u));
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(Number::from_f64)
}

/// The JSON number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(b: &[u8]) -> bool {
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn value_path_with_trailing_sub_attribute_tokenizes_with_a_dot() {
        assert_eq!(
            toks(r#"emails[type eq "work"].value"#),
            vec![
                Tok::Word("emails".into()),
                Tok::LBracket,
                Tok::Word("type".into()),
                Tok::Word("eq".into()),
                Tok::Str("work".into()),
                Tok::RBracket,
                Tok::Dot,
                Tok::Word("value".into()),
            ]
        );
    }

    #[test]
    fn strings_use_json_escapes() {
        assert_eq!(toks(r#""a\"b\u00e9""#), vec![Tok::Str("a\"bé".into())]);
    }

    #[test]
    fn malformed_tokens_report_their_position() {
        for (input, pos) in [(r#"userName eq "abc"#, "12"), ("a eq 1.2.3", "5"), ("a eq #", "5"), (r#"a eq "\x""#, "5")]
        {
            let err = tokenize(input).unwrap_err();
            assert!(err.detail.contains(pos), "{input}: {}", err.detail);
        }
    }

    #[test]
    fn floats_parse_exactly_so_printing_round_trips() {
        for f in [3.542755271287751e-66, -2.7104549123310966e17, 0.1, 1e300, 5e-324] {
            let printed = Number::from_f64(f).unwrap().to_string();
            assert_eq!(toks(&printed), vec![Tok::Num(Number::from_f64(f).unwrap())], "{printed}");
        }
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        assert_eq!(toks("-1.5e3"), vec![Tok::Num(serde_json::from_str("-1.5e3").unwrap())]);
        assert!(tokenize("01").is_err());
        assert!(tokenize("1e999").is_err());
        assert!(tokenize("-").is_err());
    }
}
