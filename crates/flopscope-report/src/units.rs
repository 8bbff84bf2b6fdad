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
        let growth = value.growth();
        let sep = if unit.is_empty() { "" } else { " " };
        return match growth.first() {
            Some(lead) if lead.coefficient == 1.0 => format!("≈ {lead}{sep}{unit}"),
            Some(lead) => format!("≈ {}·{lead}{sep}{unit}", scaled(lead.coefficient)),
            None => format!("{}{sep}{unit}", value.factored()),
        };
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
    match (part.as_i64(), whole.as_i64()) {
        (Some(_), Some(0)) => "-".into(),
        (Some(p), Some(w)) => format!("{:.2}%", p as f64 * 100.0 / w as f64),
        _ => "-".into(),
    }
}

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
        assert_eq!(human(&Dim::sym("batch"), "MACs"), "≈ batch MACs");
        let b = Dim::sym("b");
        let h = Dim::sym("h");
        let conv = &b * 11_988 * h.ceil_div(2).unwrap() * h.ceil_div(2).unwrap() + &b * 7;
        assert_eq!(human(&conv, "MACs"), "≈ 3.00 K·b·h² MACs");
    }

    #[test]
    fn exact_and_percent() {
        assert_eq!(exact(&d(300_774_272)), "300,774,272");
        assert_eq!(exact(&d(-1_000)), "-1,000");
        assert_eq!(exact(&d(12)), "12");
        assert_eq!(percent(&d(1), &d(3)), "33.33%");
        assert_eq!(percent(&d(1), &d(0)), "-");
    }
}
