//! How a [`Dim`] grows with its symbols: its power products and their coefficients, reading
//! `floor(a/c)` and `ceil(a/c)` as `a/c` without `a`'s constant (what they tend to as the
//! symbols grow: `ceil(h/2)` as `h/2`), `min` as its
//! slowest-growing argument and `max` as its fastest. For a plain polynomial this is exact.
//! It answers "what part of the cost grows quadratically with `seq`?".

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::poly::{Atom, Poly};
use super::{Dim, Repr};

/// A power product of symbols: symbol → exponent (absent: 0).
type Powers = BTreeMap<Arc<str>, u32>;

/// One term of a [`Dim`]'s growth: `coefficient · ∏ symbol^exponent`.
#[derive(Debug, Clone, PartialEq)]
pub struct GrowthTerm {
    pub coefficient: f64,
    pub powers: BTreeMap<Arc<str>, u32>,
}

impl GrowthTerm {
    /// Sum of the exponents.
    pub fn degree(&self) -> u32 {
        self.powers.values().sum()
    }
}

impl fmt::Display for GrowthTerm {
    /// `batch·seq²`, without the coefficient (`1` for a constant term).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.powers.is_empty() {
            return f.write_str("1");
        }
        for (i, (s, e)) in self.powers.iter().enumerate() {
            if i > 0 {
                f.write_str("·")?;
            }
            f.write_str(s)?;
            match e {
                1 => {}
                2 => f.write_str("²")?,
                3 => f.write_str("³")?,
                e => write!(f, "^{e}")?,
            }
        }
        Ok(())
    }
}

/// A polynomial with real coefficients over power products.
#[derive(Debug, Clone, Default)]
struct Real(BTreeMap<Powers, f64>);

impl Real {
    fn constant(c: f64) -> Real {
        Real(BTreeMap::from([(Powers::new(), c)]))
    }

    fn add(&mut self, other: &Real, scale: f64) {
        for (p, c) in &other.0 {
            *self.0.entry(p.clone()).or_default() += c * scale;
        }
    }

    fn mul(&self, other: &Real) -> Real {
        let mut out = Real::default();
        for (p, c) in &self.0 {
            for (q, d) in &other.0 {
                let mut r = p.clone();
                for (s, e) in q {
                    *r.entry(s.clone()).or_default() += e;
                }
                *out.0.entry(r).or_default() += c * d;
            }
        }
        out
    }

    /// The highest total degree, then the largest coefficient there: how fast it grows.
    fn rank(&self) -> (u32, f64) {
        self.0
            .iter()
            .filter(|(_, c)| **c != 0.0)
            .map(|(p, c)| (p.values().sum::<u32>(), *c))
            .fold((0, 0.0), |best, x| {
                if x.0 > best.0 || (x.0 == best.0 && x.1 > best.1) {
                    x
                } else {
                    best
                }
            })
    }
}

fn poly(p: &Poly) -> Real {
    let mut out = Real::default();
    for t in &p.0 {
        let mut term = Real::constant(t.coeff as f64);
        for (atom, e) in &t.mono.0 {
            let a = atom_growth(atom);
            for _ in 0..*e {
                term = term.mul(&a);
            }
        }
        out.add(&term, 1.0);
    }
    out
}

fn atom_growth(atom: &Atom) -> Real {
    match atom {
        Atom::Sym(s) => Real(BTreeMap::from([(Powers::from([(s.clone(), 1)]), 1.0)])),
        // floor(p/c) grows like p/c; the constant of p (what rounds it) does not grow.
        Atom::Floor(f) => {
            let mut r = Real::default();
            r.add(
                &poly(&Poly(f.num.nonconst_terms().to_vec())),
                1.0 / f.div as f64,
            );
            r
        }
        Atom::Min(args) => pick(args, |a, b| a < b),
        Atom::Max(args) => pick(args, |a, b| a > b),
    }
}

/// The argument whose growth `better` prefers.
fn pick(args: &[Poly], better: fn((u32, f64), (u32, f64)) -> bool) -> Real {
    let mut grown: Vec<Real> = args.iter().map(poly).collect();
    let mut best = 0;
    for i in 1..grown.len() {
        if better(grown[i].rank(), grown[best].rank()) {
            best = i;
        }
    }
    grown.swap_remove(best)
}

impl Dim {
    /// The power products this dim grows with, and their coefficients, highest degree first
    /// (see the module docs). Empty for zero and for an overflowed value.
    pub fn growth(&self) -> Vec<GrowthTerm> {
        let real = match &self.0 {
            Repr::Int(v) => Real::constant(*v as f64),
            Repr::Expr(p) => poly(p),
            Repr::Overflow => return Vec::new(),
        };
        let mut terms: Vec<GrowthTerm> = real
            .0
            .into_iter()
            .filter(|(_, c)| *c != 0.0)
            .map(|(powers, coefficient)| GrowthTerm {
                coefficient,
                powers,
            })
            .collect();
        terms.sort_by(|a, b| {
            b.degree()
                .cmp(&a.degree())
                .then_with(|| a.powers.cmp(&b.powers))
        });
        terms
    }
}
