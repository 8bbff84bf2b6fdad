//! The model totals a report compares and tabulates, each named once: its JSON key, its
//! label, its unit and where its value is. `diff`, the sweep, `profile-zoo`'s snapshots and
//! Markdown, and the views list totals through [`TotalKind`], and show changes through
//! [`percent_change`].

use flopscope_ir::Dim;

use crate::model::TotalsReport;

/// One of a report's model totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TotalKind {
    Params,
    Buffers,
    QuantParams,
    Macs,
    Flops,
    WeightBytes,
    ActivationBytes,
    PeakActivationBytes,
    Bytes,
    Nodes,
    CountedNodes,
}

impl TotalKind {
    /// Every total, in the order tables list them.
    pub const ALL: [TotalKind; 11] = [
        TotalKind::Params,
        TotalKind::Buffers,
        TotalKind::QuantParams,
        TotalKind::Macs,
        TotalKind::Flops,
        TotalKind::WeightBytes,
        TotalKind::ActivationBytes,
        TotalKind::PeakActivationBytes,
        TotalKind::Bytes,
        TotalKind::Nodes,
        TotalKind::CountedNodes,
    ];

    /// Its key in the report's JSON `totals` (and in sweeps and snapshots).
    pub fn key(self) -> &'static str {
        match self {
            TotalKind::Params => "params",
            TotalKind::Buffers => "buffers",
            TotalKind::QuantParams => "quant_params",
            TotalKind::Macs => "macs",
            TotalKind::Flops => "flops",
            TotalKind::WeightBytes => "weight_bytes",
            TotalKind::ActivationBytes => "activation_bytes",
            TotalKind::PeakActivationBytes => "peak_activation_bytes",
            TotalKind::Bytes => "bytes",
            TotalKind::Nodes => "nodes",
            TotalKind::CountedNodes => "counted_nodes",
        }
    }

    /// The total from its JSON key.
    pub fn from_key(key: &str) -> Option<TotalKind> {
        TotalKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            TotalKind::Params => "Params (trainable)",
            TotalKind::Buffers => "Buffers (non-trainable)",
            TotalKind::QuantParams => "Quantization params",
            TotalKind::Macs => "MACs",
            TotalKind::Flops => "FLOPs",
            TotalKind::WeightBytes => "Weight memory",
            TotalKind::ActivationBytes => "Activation memory",
            TotalKind::PeakActivationBytes => "Peak activation memory",
            TotalKind::Bytes => "Memory traffic",
            TotalKind::Nodes => "Nodes",
            TotalKind::CountedNodes => "Counted nodes",
        }
    }

    /// The unit its values are shown in (`""` for plain counts).
    pub fn unit(self) -> &'static str {
        match self {
            TotalKind::Macs => "MACs",
            TotalKind::Flops => "FLOPs",
            TotalKind::WeightBytes
            | TotalKind::ActivationBytes
            | TotalKind::PeakActivationBytes
            | TotalKind::Bytes => "B",
            _ => "",
        }
    }

    /// Whether an uncounted node makes it a lower bound (what uncounted nodes cost is
    /// unknown; their params and memory are not).
    pub fn bounded_below_by_uncounted(self) -> bool {
        matches!(self, TotalKind::Macs | TotalKind::Flops | TotalKind::Bytes)
    }

    /// Its value in a report's totals.
    pub fn of(self, t: &TotalsReport) -> Dim {
        match self {
            TotalKind::Params => t.params.clone(),
            TotalKind::Buffers => t.buffers.clone(),
            TotalKind::QuantParams => t.quant_params.clone(),
            TotalKind::Macs => t.macs.clone(),
            TotalKind::Flops => t.flops.clone(),
            TotalKind::WeightBytes => t.weight_bytes.clone(),
            TotalKind::ActivationBytes => t.activation_bytes.clone(),
            TotalKind::PeakActivationBytes => t.peak_activation_bytes.clone(),
            TotalKind::Bytes => t.bytes.clone(),
            TotalKind::Nodes => Dim::from(t.nodes),
            TotalKind::CountedNodes => Dim::from(t.counted_nodes),
        }
    }
}

/// A change from `old` by `delta`, in percent of `old`: `None` when either is a formula or
/// `old` is zero.
pub fn percent_change(old: &Dim, delta: &Dim) -> Option<f64> {
    match (old.as_i64(), delta.as_i64()) {
        (Some(o), Some(d)) if o != 0 => Some(d as f64 * 100.0 / o as f64),
        _ => None,
    }
}

/// [`percent_change`] as tables show it: `+1.25%`, `0` for no change, `new` for a change from
/// zero, `-` for a formula.
pub fn percent_change_text(old: &Dim, delta: &Dim) -> String {
    if *delta == Dim::zero() {
        return "0".into();
    }
    match percent_change(old, delta) {
        Some(p) => format!("{p:+.2}%"),
        None if *old == Dim::zero() => "new".into(),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_the_json_keys() {
        let json = serde_json::to_value(TotalsReport::default()).expect("JSON");
        for kind in TotalKind::ALL {
            assert_eq!(TotalKind::from_key(kind.key()), Some(kind));
            assert!(
                json.get(kind.key()).is_some(),
                "{} is not a JSON key",
                kind.key()
            );
        }
    }

    #[test]
    fn percent_changes() {
        let d = Dim::from_i64;
        assert_eq!(percent_change(&d(200), &d(50)), Some(25.0));
        assert_eq!(percent_change_text(&d(200), &d(-50)), "-25.00%");
        assert_eq!(percent_change_text(&d(200), &d(0)), "0");
        assert_eq!(percent_change_text(&d(0), &d(7)), "new");
        assert_eq!(percent_change_text(&Dim::sym("batch"), &d(7)), "-");
        assert_eq!(percent_change(&d(0), &d(7)), None);
    }
}
