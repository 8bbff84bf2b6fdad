//! Human-readable quantities with explicit units.

use flopscope_ir::Dim;

const PREFIXES: [(i64, &str); 5] = [
    (1_000_000_000_000_000, "P"),
    (1_000_000_000_000, "T"),
    (1_000_000_000, "G"),
    (1_000_000, "M"),
    (1_000, "K"),
];

/// `value` with a decimal SI prefix and `unit`, two decimals: `300.77 MMACs`, `3.49 M`.
/// Below 1,000 the plain integer is printed. A symbolic value prints as its expression.
pub fn human(value: &Dim, unit: &str) -> String {
    let Some(v) = value.as_i64() else {
        let sep = if unit.is_empty() { "" } else { " " };
        let exact = value.factored();
        if exact.chars().count() <= SHORT_FORMULA {
            return format!("{exact}{sep}{unit}");
        }
        // Every term that matters at some size: the leading term alone once hid that at
        // seq = 128 the linear term of a transformer is 90% of its cost.
        let growth = value.growth();
        let terms: Vec<String> = growth
            .iter()
            .take(GROWTH_TERMS)
            .map(|t| {
                if t.coefficient == 1.0 {
                    t.to_string()
                } else if t.powers.is_empty() {
                    scaled(t.coefficient).trim_end().to_owned()
                } else {
                    format!("{}·{t}", scaled(t.coefficient))
                }
            })
            .collect();
        if terms.is_empty() {
            return format!("{exact}{sep}{unit}");
        }
        let more = if growth.len() > GROWTH_TERMS {
            " + …"
        } else {
            ""
        };
        return format!("≈ {}{more}{sep}{unit}", terms.join(" + "));
    };
    let sep = if unit.is_empty() { "" } else { " " };
    for (scale, prefix) in PREFIXES {
        if v.abs() >= scale {
            let scaled = v as f64 / scale as f64;
            return format!("{scaled:.2} {prefix}{unit}");
        }
    }
    format!("{v}{sep}{unit}")
}

/// A real coefficient with an SI prefix and at most three significant decimals: `5.99 K`, `0.25`.
fn scaled(x: f64) -> String {
    for (scale, prefix) in PREFIXES {
        let scale = scale as f64;
        if x.abs() >= scale {
            return format!("{:.2} {prefix}", x / scale);
        }
    }
    if x == x.trunc() {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// An integer with thousands separators (`300,774,272`), or the expression.
pub fn exact(value: &Dim) -> String {
    match value.as_i64() {
        Some(v) => {
            let digits = v.unsigned_abs().to_string();
            let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
            if v < 0 {
                out.push('-');
            }
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
        None => value.factored(),
    }
}

/// `part / whole` as a percentage with two decimals, when both are integers.
pub fn percent(part: &Dim, whole: &Dim) -> String {
    share(part, whole).map_or_else(|| "-".into(), |r| format!("{:.2}%", r * 100.0))
}

/// `part / whole`: for numbers, their quotient; for formulas, their quotient when it does not
/// depend on the dims left free (a common factor such as `batch` cancels: the share of each
/// layer is the same at every batch), `None` when it does or `whole` is zero.
pub fn share(part: &Dim, whole: &Dim) -> Option<f64> {
    if let (Some(p), Some(w)) = (part.as_i64(), whole.as_i64()) {
        return (w != 0).then(|| p as f64 / w as f64);
    }
    let mut first: Option<f64> = None;
    for probe in SHARE_PROBES {
        let at = |d: &Dim| d.eval(&|_| Some(probe)).ok();
        let (p, w) = (at(part)?, at(whole)?);
        if w == 0 {
            return None;
        }
        let r = p as f64 / w as f64;
        match first {
            None => first = Some(r),
            Some(r0) if (r - r0).abs() <= 1e-9 * r0.abs() => {}
            Some(_) => return None,
        }
    }
    first
}

/// A size to rank by: a number itself, a formula its value with every free dim at
/// [`RANK_PROBE`] (so that views list the heaviest first whatever is left symbolic, instead of
/// alphabetically).
pub fn magnitude(value: &Dim) -> f64 {
    match value.as_i64() {
        Some(v) => v as f64,
        None => value
            .eval(&|_| Some(RANK_PROBE))
            .map_or(f64::MAX, |v| v as f64),
    }
}

/// A formula up to this many characters is shown whole rather than summarised.
const SHORT_FORMULA: usize = 32;
/// How many terms of a long formula's growth a summary shows.
const GROWTH_TERMS: usize = 3;
/// Free dims are set to these to test whether a share depends on them.
const SHARE_PROBES: [i64; 3] = [64, 509, 4096];
/// Free dims are set to this to rank formulas.
pub const RANK_PROBE: i64 = 512;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Dim {
        Dim::from_i64(v)
    }

    #[test]
    fn human_units() {
        assert_eq!(human(&d(300_774_272), "MACs"), "300.77 MMACs");
        assert_eq!(human(&d(19_599_769_600), "MACs"), "19.60 GMACs");
        assert_eq!(human(&d(3_504_872), ""), "3.50 M");
        assert_eq!(human(&d(999), "B"), "999 B");
        assert_eq!(human(&d(0), ""), "0");
        // A short formula is shown whole, exactly.
        assert_eq!(human(&Dim::sym("batch"), "MACs"), "batch MACs");
        let b = Dim::sym("b");
        let h = Dim::sym("h");
        let conv = &b * 11_988 * h.ceil_div(2).unwrap() * h.ceil_div(2).unwrap() + &b * 7;
        assert_eq!(conv.factored(), "b*(11988*ceil(h/2)*ceil(h/2) + 7)");
        assert_eq!(human(&conv, "MACs"), "≈ 3.00 K·b·h² + 7·b MACs");
        // A long one by every term that grows, not the leading term alone: at seq = 128 the
        // linear term is most of this attention block's cost.
        let (batch, seq) = (Dim::sym("batch"), Dim::sym("seq"));
        let block = &batch * &seq * &seq * 512 + &batch * &seq * 586_752 + &batch * 3;
        assert!(
            block.factored().chars().count() > 32,
            "{}",
            block.factored()
        );
        assert_eq!(
            human(&block, "MACs"),
            "≈ 512·batch·seq² + 586.75 K·batch·seq + 3·batch MACs"
        );
    }

    #[test]
    fn exact_and_percent() {
        assert_eq!(exact(&d(300_774_272)), "300,774,272");
        assert_eq!(exact(&d(-1_000)), "-1,000");
        assert_eq!(exact(&d(12)), "12");
        assert_eq!(percent(&d(1), &d(3)), "33.33%");
        assert_eq!(percent(&d(1), &d(0)), "-");
        // A common free factor cancels: the share is the same at every batch.
        let b = Dim::sym("batch");
        assert_eq!(percent(&(&b * 1), &(&b * 3)), "33.33%");
        // A share that depends on a free dim has no single value.
        let s = Dim::sym("seq");
        assert_eq!(percent(&(&b * &s * &s), &(&b * &s * &s + &b * &s)), "-");
        assert!(magnitude(&(&s * &s)) > magnitude(&(&s * 100)));
        assert_eq!(magnitude(&d(7)), 7.0);
    }
}
