//! A recursive-descent parser for the [`Dim`] syntax.
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary ('*' unary)*
//! unary   := '-' unary | primary
//! primary := integer | name | '(' expr ')'
//!          | ('floor' | 'ceil') '(' expr '/' expr ')'
//!          | ('min' | 'max') '(' expr (',' expr)* ')'
//! name    := [A-Za-z_][A-Za-z0-9_.]*
//! ```
//!
//! The value is built through the normalising operations. A minus sign is pushed into the first
//! factor of the term it negates, so that `-9223372036854775808` (and `x - 9223372036854775808`)
//! read as `i64::MIN` although `9223372036854775808` alone does not fit an `i64`.

use super::{Dim, ParseDimError};

/// Deeper nesting is rejected, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

pub(super) fn parse(input: &str) -> Result<Dim, ParseDimError> {
    let mut p = Parser {
        input,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(p.error(p.pos, "empty expression"));
    }
    let value = p.expr()?;
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next character; always on a character boundary, since only ASCII
    /// bytes are ever consumed.
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseDimError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseDimError {
        ParseDimError {
            input: self.input.to_string(),
            offset,
            message: message.into(),
        }
    }

    /// An error for the character at the current position (or the end of input).
    fn unexpected(&self) -> ParseDimError {
        match self.input.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => self.error(self.pos, format!("unexpected `{c}`")),
            None => self.error(self.pos, "unexpected end of input"),
        }
    }

    /// Skips spaces and consumes `want`, or fails with `what` expected.
    fn expect(&mut self, want: u8, what: &str) -> PResult<()> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            let found = match self.input.get(self.pos..).and_then(|s| s.chars().next()) {
                Some(c) => format!("`{c}`"),
                None => "end of input".to_string(),
            };
            Err(self.error(self.pos, format!("expected {what}, found {found}")))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(self.pos, "expression nested too deeply"));
        }
        Ok(())
    }

    fn expr(&mut self) -> PResult<Dim> {
        self.enter()?;
        let mut acc = self.term(false)?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'+') => {
                    self.pos += 1;
                    acc += self.term(false)?;
                }
                Some(b'-') => {
                    self.pos += 1;
                    acc += self.term(true)?;
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(acc)
    }

    /// A product; `negate` negates it (through its first factor).
    fn term(&mut self, negate: bool) -> PResult<Dim> {
        let mut acc = self.unary(negate)?;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'*') {
                self.pos += 1;
                acc *= self.unary(false)?;
            } else {
                break;
            }
        }
        Ok(acc)
    }

    fn unary(&mut self, negate: bool) -> PResult<Dim> {
        self.skip_ws();
        if self.peek() == Some(b'-') {
            self.pos += 1;
            self.enter()?;
            let value = self.unary(!negate)?;
            self.depth -= 1;
            return Ok(value);
        }
        self.primary(negate)
    }

    fn primary(&mut self, negate: bool) -> PResult<Dim> {
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek() {
            Some(b) if b.is_ascii_digit() => return self.integer(negate),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let name = self.name();
                self.skip_ws();
                match (name, self.peek()) {
                    ("floor", Some(b'(')) => self.division(false)?,
                    ("ceil", Some(b'(')) => self.division(true)?,
                    ("min", Some(b'(')) => self.extremum(false)?,
                    ("max", Some(b'(')) => self.extremum(true)?,
                    ("overflow", _) => Dim::overflow(),
                    _ => Dim::sym(name),
                }
            }
            Some(b'(') => {
                self.pos += 1;
                let value = self.expr()?;
                self.expect(b')', "`)`")?;
                value
            }
            None => return Err(self.error(start, "expected an expression, found end of input")),
            Some(_) => return Err(self.unexpected()),
        };
        Ok(if negate { -value } else { value })
    }

    /// An integer literal, negated if `negate` (which admits `-9223372036854775808`).
    fn integer(&mut self, negate: bool) -> PResult<Dim> {
        let start = self.pos;
        let mut magnitude: u64 = 0;
        let mut fits = true;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            magnitude = match magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
            {
                Some(m) => m,
                None => {
                    fits = false;
                    0
                }
            };
            self.pos += 1;
        }
        let value = if !fits {
            None
        } else if negate {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value
            .map(Dim::from_i64)
            .ok_or_else(|| self.error(start, "integer literal does not fit in a 64-bit integer"))
    }

    /// A name; the caller has checked that it starts with a letter or `_`.
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// The rest of `floor(a/b)` or `ceil(a/b)`, at the `(`.
    fn division(&mut self, ceil: bool) -> PResult<Dim> {
        let what = if ceil { "ceil" } else { "floor" };
        self.enter()?;
        self.expect(b'(', "`(`")?;
        let num = self.expr()?;
        self.expect(b'/', &format!("`/` in {what}(a/b)"))?;
        self.skip_ws();
        let div_start = self.pos;
        let div = self.expr()?;
        self.expect(b')', "`)`")?;
        self.depth -= 1;
        if div.is_overflow() {
            return Ok(Dim::overflow());
        }
        let result = match div.as_i64() {
            Some(c) if c > 0 => {
                if ceil {
                    num.ceil_div(c)
                } else {
                    num.floor_div(c)
                }
            }
            _ => {
                return Err(self.error(
                    div_start,
                    format!(
                        "the divisor of {what} must be a positive integer constant, not `{div}`"
                    ),
                ));
            }
        };
        // The divisor was checked to be positive, so the division cannot fail.
        result.map_err(|e| self.error(div_start, e.to_string()))
    }

    /// The rest of `min(...)` or `max(...)`, at the `(`.
    fn extremum(&mut self, max: bool) -> PResult<Dim> {
        self.enter()?;
        self.expect(b'(', "`(`")?;
        let mut acc = self.expr()?;
        loop {
            self.skip_ws();
            if self.peek() == Some(b',') {
                self.pos += 1;
                let next = self.expr()?;
                acc = if max {
                    Dim::max(&acc, &next)
                } else {
                    Dim::min(&acc, &next)
                };
            } else {
                break;
            }
        }
        self.expect(b')', "`,` or `)`")?;
        self.depth -= 1;
        Ok(acc)
    }
}
