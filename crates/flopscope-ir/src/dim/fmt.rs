//! Printing a [`Dim`] in the syntax that [`Dim::parse`] reads back.
//!
//! Terms are ordered by total degree (highest first), then by their factors' text; the
//! coefficient comes first and only when it is not 1 (`3*batch*height`); powers are repeated
//! factors (`seq*seq`); negative terms are written with ` - `; the constant comes last. A floor
//! whose numerator has the constant `c - 1 > 0` is printed as a ceil: `floor((h + 1)/2)` is
//! `ceil(h/2)`.

use std::fmt::{self, Display, Formatter, Write};

use super::poly::{Atom, FloorAtom, Poly, Term};
use super::{Dim, Repr};

impl Display for Dim {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(v) => write!(f, "{v}"),
            Repr::Expr(p) => write_poly(f, p),
            Repr::Overflow => f.write_str("overflow"),
        }
    }
}

impl fmt::Debug for Dim {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "Dim({self})")
    }
}

impl Dim {
    /// The same expression with the factors every term shares pulled out front, for reading:
    /// `batch*(3200*ceil(height/2)*ceil(width/2) + 1280000)` rather than the expanded normal
    /// form. It parses back to the same `Dim`.
    pub fn factored(&self) -> String {
        let Repr::Expr(p) = &self.0 else {
            return self.to_string();
        };
        let mut terms = reading_terms(p);
        let Some((first, rest)) = terms.split_first() else {
            return self.to_string();
        };
        // The factors (with multiplicity) that every term has.
        let mut common = first.1.clone();
        for (_, factors, _) in rest {
            let mut left = factors.clone();
            common.retain(|f| match left.iter().position(|g| g == f) {
                Some(i) => {
                    left.swap_remove(i);
                    true
                }
                None => false,
            });
        }
        if common.is_empty() || terms.len() < 2 {
            return self.to_string();
        }
        for (_, factors, _) in &mut terms {
            for c in &common {
                if let Some(i) = factors.iter().position(|f| f == c) {
                    factors.remove(i);
                }
            }
        }
        let mut inner = String::new();
        // Writing to a String cannot fail.
        let _ = write_terms(&mut inner, &terms);
        format!("{}*({inner})", common.join("*"))
    }
}

/// A polynomial's terms as (degree, factor texts, coefficient), sorted for reading.
fn reading_terms(p: &Poly) -> Vec<(u64, Vec<String>, i64)> {
    let mut terms: Vec<(u64, Vec<String>, i64)> =
        p.0.iter()
            .map(|t: &Term| {
                let mut factors = Vec::new();
                for (atom, e) in &t.mono.0 {
                    let text = atom_text(atom);
                    for _ in 1..*e {
                        factors.push(text.clone());
                    }
                    factors.push(text);
                }
                (t.mono.degree(), factors, t.coeff)
            })
            .collect();
    terms.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| natural_cmp(&x.1, &y.1)));
    terms
}

/// Orders factor lists as a reader expects: numbers inside names compare by value, so
/// `ceil(h/2)` comes before `ceil(h/16)`.
fn natural_cmp(a: &[String], b: &[String]) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let key = |x: &[String]| -> Vec<(bool, u64, String)> {
        x.iter()
            .flat_map(|f| {
                chunks(f)
                    .into_iter()
                    .map(|(digit, c)| {
                        if digit {
                            (true, c.parse::<u64>().unwrap_or(u64::MAX), String::new())
                        } else {
                            (false, 0, c.to_owned())
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    key(a).cmp(&key(b))
}

/// Writes a polynomial as a sum of terms in reading order.
fn write_poly(out: &mut dyn Write, p: &Poly) -> fmt::Result {
    if p.is_zero() {
        return out.write_str("0");
    }
    write_terms(out, &reading_terms(p))
}

fn write_terms(out: &mut dyn Write, terms: &[(u64, Vec<String>, i64)]) -> fmt::Result {
    for (i, (_, factors, coeff)) in terms.iter().enumerate() {
        // `unsigned_abs` keeps i64::MIN printable; the parser reads `- 9223372036854775808`.
        let magnitude = coeff.unsigned_abs();
        match (i, *coeff < 0) {
            (0, true) => out.write_char('-')?,
            (0, false) => {}
            (_, true) => out.write_str(" - ")?,
            (_, false) => out.write_str(" + ")?,
        }
        if factors.is_empty() {
            write!(out, "{magnitude}")?;
            continue;
        }
        if magnitude != 1 {
            write!(out, "{magnitude}*")?;
        }
        out.write_str(&factors.join("*"))?;
    }
    Ok(())
}

fn poly_text(p: &Poly) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_poly(&mut s, p);
    s
}

fn atom_text(atom: &Atom) -> String {
    match atom {
        Atom::Sym(name) => name.to_string(),
        Atom::Floor(fl) => floor_text(fl),
        Atom::Min(args) => call_text("min", args),
        Atom::Max(args) => call_text("max", args),
    }
}

/// `ceil(num - (c-1) / c)` when the numerator's constant is `c - 1 > 0`, else `floor(num/c)`.
fn floor_text(fl: &FloorAtom) -> String {
    let c = fl.div;
    let (name, num) = if fl.num.constant_term() == c - 1 && c > 1 {
        ("ceil", Poly(fl.num.nonconst_terms().to_vec()))
    } else {
        ("floor", fl.num.clone())
    };
    let text = poly_text(&num);
    if num.0.len() > 1 {
        format!("{name}(({text})/{c})")
    } else {
        format!("{name}({text}/{c})")
    }
}

/// `name(a, b, ...)` with the non-constant arguments sorted by text and the constant last.
fn call_text(name: &str, args: &[Poly]) -> String {
    let mut texts: Vec<(bool, String)> = args
        .iter()
        .map(|a| (a.as_const().is_some(), poly_text(a)))
        .collect();
    texts.sort();
    let joined: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
    format!("{name}({})", joined.join(", "))
}
