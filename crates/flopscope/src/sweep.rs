//! `flopscope sweep`: the totals over a grid of input sizes. The model is profiled once with its
//! dims left symbolic and the formulas are evaluated at every point (in parallel); a model
//! whose dims are fixed, or that cannot be profiled symbolically, is profiled at every point.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use flopscope_counters::{DeclaredOp, Profile, ProfileOptions};
use flopscope_ir::{DeclaredType, Dim, Model};
use flopscope_report::{Law, SweepAxis, SweepReport, SweepRow, TotalKind, TotalsReport};
use rayon::prelude::*;

use crate::Error;

/// What to sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepRequest {
    /// Named dims and their values (`--dim batch=1,32`).
    pub dims: Vec<(String, Vec<i64>)>,
    /// Image sizes: each sets the model's height and width dims together (`--size 224,320`).
    pub sizes: Option<Vec<i64>>,
    /// Input shapes (`--input NAME=SHAPE[;SHAPE...]`): one shape fixes the input, several are
    /// an axis of the grid (for models whose dims are fixed numbers).
    pub inputs: Vec<(String, Vec<Vec<Dim>>)>,
    /// Ops declared at run time (`--op-costs`), for every point.
    pub declared_ops: Vec<Arc<dyn DeclaredOp>>,
    /// Estimate every point's time on this machine from the roofline (`--hardware`).
    pub hardware: Option<flopscope_report::Hardware>,
}

/// Why a sweep could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("image sizes set an input's last two dims, but no input has them named (NCHW)")]
    NoSpatialDims,
    #[error("the totals depend on `{0}`, which the sweep does not set")]
    Unbound(String),
    #[error("the sweep has no axis: no dim values, image sizes or input shapes to vary")]
    Empty,
    #[error("{0} at {1}: the value does not fit in 64 bits")]
    Overflow(&'static str, String),
}

/// One value of an axis at a point.
#[derive(Debug, Clone)]
enum AxisValue {
    Dim(i64),
    Shape(Vec<Dim>),
}

impl AxisValue {
    fn text(&self) -> String {
        match self {
            AxisValue::Dim(v) => v.to_string(),
            AxisValue::Shape(s) => s
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        }
    }
}

/// The named dims at axes 2 and 3 of every rank-4 input (NCHW height and width).
fn spatial_symbols(model: &Model) -> Vec<String> {
    let mut out = Vec::new();
    for &id in &model.graph.inputs {
        if let Some(DeclaredType::Tensor {
            shape: Some(shape), ..
        }) = &model.graph.value(id).declared
            && shape.len() == 4
        {
            for d in shape[2..].iter().flatten() {
                if let [s] = d.symbols().as_slice()
                    && *d == Dim::sym(s)
                    && !out.contains(&s.to_string())
                {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}

/// Every combination of the axes' values, the first axis varying slowest.
fn grid(axes: &[Vec<AxisValue>]) -> Vec<Vec<AxisValue>> {
    let mut points: Vec<Vec<AxisValue>> = vec![Vec::new()];
    for values in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v.clone());
                    q
                })
            })
            .collect();
    }
    points
}

fn int(d: &Dim, what: &'static str, at: &str) -> Result<i64, SweepError> {
    d.as_i64()
        .ok_or_else(|| SweepError::Overflow(what, at.to_owned()))
}

/// Sweeps a loaded model; `path` names it in errors and in the report.
pub fn sweep(path: &Path, model: &Model, request: &SweepRequest) -> Result<SweepReport, Error> {
    let sweep_err = |e: SweepError| Error::Sweep {
        path: path.to_owned(),
        source: e,
    };
    let mut axes: Vec<SweepAxis> = Vec::new();
    let mut values: Vec<Vec<AxisValue>> = Vec::new();
    let mut fixed = ProfileOptions {
        declared_ops: request.declared_ops.clone(),
        ..ProfileOptions::default()
    };
    for (name, shapes) in &request.inputs {
        match shapes.as_slice() {
            [one] => {
                fixed.inputs.insert(name.clone(), one.clone());
            }
            many => {
                axes.push(SweepAxis {
                    name: name.clone(),
                    symbols: Vec::new(),
                });
                values.push(many.iter().cloned().map(AxisValue::Shape).collect());
            }
        }
    }
    for (name, vs) in &request.dims {
        axes.push(SweepAxis {
            name: name.clone(),
            symbols: vec![name.clone()],
        });
        values.push(vs.iter().copied().map(AxisValue::Dim).collect());
    }
    if let Some(sizes) = &request.sizes {
        let symbols = spatial_symbols(model);
        if symbols.is_empty() {
            return Err(sweep_err(SweepError::NoSpatialDims));
        }
        axes.push(SweepAxis {
            name: "size".into(),
            symbols,
        });
        values.push(sizes.iter().copied().map(AxisValue::Dim).collect());
    }
    if axes.is_empty() {
        return Err(sweep_err(SweepError::Empty));
    }
    let points = grid(&values);
    let label = path.display().to_string();

    let shapes_vary = axes.iter().any(|a| a.symbols.is_empty());
    let symbolic = if shapes_vary {
        None
    } else {
        crate::profile_model(path, model, &fixed).ok()
    };
    let hardware = request.hardware.as_ref();
    let mut report = match &symbolic {
        Some(profile) => {
            let nodes =
                hardware.map(|_| flopscope_report::Report::new(&label, model, profile).nodes);
            let timing = nodes.as_deref().zip(hardware);
            evaluate(profile, &axes, &points, timing).map_err(sweep_err)?
        }
        None => {
            let rows = points
                .par_iter()
                .map(|point| profile_point(path, model, &fixed, &axes, point, hardware))
                .collect::<Result<Vec<_>, Error>>()?;
            let lower_bound = rows.iter().any(|(_, lb)| *lb);
            let mut r = SweepReport::new(
                &label,
                axes.clone(),
                rows.into_iter().map(|(r, _)| r).collect(),
            );
            r.lower_bound = lower_bound;
            r
        }
    };
    report.model = label;
    report.hardware = request.hardware.clone();
    Ok(report)
}

/// The totals of one symbolic profile at every point, in parallel.
fn evaluate(
    profile: &Profile,
    axes: &[SweepAxis],
    points: &[Vec<AxisValue>],
    timing: Option<(&[flopscope_report::NodeReport], &flopscope_report::Hardware)>,
) -> Result<SweepReport, SweepError> {
    let t = TotalsReport::of(profile);
    // Every swept total but the peak, which is found with where it happens.
    let totals: Vec<(TotalKind, Dim)> = SweepRow::TOTALS
        .into_iter()
        .filter(|k| *k != TotalKind::PeakActivationBytes)
        .map(|k| (k, k.of(&t)))
        .collect();
    let rows = points
        .par_iter()
        .map(|point| {
            let mut binding: BTreeMap<&str, i64> = BTreeMap::new();
            for (axis, value) in axes.iter().zip(point) {
                if let AxisValue::Dim(v) = value {
                    for s in &axis.symbols {
                        binding.insert(s.as_str(), *v);
                    }
                }
            }
            let lookup = |s: &str| binding.get(s).copied();
            let at = point
                .iter()
                .map(AxisValue::text)
                .collect::<Vec<_>>()
                .join(", ");
            let mut figures = [0i64; 4];
            for (slot, (kind, value)) in figures.iter_mut().zip(&totals) {
                *slot = value.eval(&lookup).map_err(|e| match e {
                    flopscope_ir::DimError::Unbound(s) => SweepError::Unbound(s),
                    _ => SweepError::Overflow(kind.key(), at.clone()),
                })?;
            }
            let (peak, peak_at) = profile.peak_at(&lookup).ok_or_else(|| {
                SweepError::Overflow(TotalKind::PeakActivationBytes.key(), at.clone())
            })?;
            let time_s = timing
                .map(|(nodes, hw)| {
                    flopscope_report::hardware::pass_time(nodes, hw, &lookup)
                        .map_err(SweepError::Unbound)
                })
                .transpose()?;
            Ok(SweepRow {
                values: point.iter().map(AxisValue::text).collect(),
                params: figures[0],
                macs: figures[1],
                flops: figures[2],
                activation_bytes: figures[3],
                peak_activation_bytes: peak,
                peak_at: Some(peak_at),
                time_s,
            })
        })
        .collect::<Result<Vec<_>, SweepError>>()?;
    let mut report = SweepReport::new("", axes.to_vec(), rows);
    report.lower_bound = t.lower_bound;
    report.formulas = Some(
        SweepRow::TOTALS
            .iter()
            .map(|k| (k.key().to_owned(), k.of(&t)))
            .collect(),
    );
    // The costs first: how MACs grow is what a sweep is run to see.
    report.laws = [
        TotalKind::Macs,
        TotalKind::Flops,
        TotalKind::Params,
        TotalKind::ActivationBytes,
        TotalKind::PeakActivationBytes,
    ]
    .iter()
    .map(|k| Law::new(k.label(), k.unit(), &k.of(&t)))
    .collect();
    Ok(report)
}

/// One concrete profile for a point (shapes vary, or the model needs its sizes to infer).
fn profile_point(
    path: &Path,
    model: &Model,
    fixed: &ProfileOptions,
    axes: &[SweepAxis],
    point: &[AxisValue],
    hardware: Option<&flopscope_report::Hardware>,
) -> Result<(SweepRow, bool), Error> {
    let mut options = fixed.clone();
    options.replace_declared_shapes = true;
    for (axis, value) in axes.iter().zip(point) {
        match value {
            AxisValue::Shape(shape) => {
                options.inputs.insert(axis.name.clone(), shape.clone());
            }
            AxisValue::Dim(v) => {
                for s in &axis.symbols {
                    options.dims.insert(s.clone(), Dim::from_i64(*v));
                }
            }
        }
    }
    let profile = crate::profile_model(path, model, &options)?;
    let t = &profile.totals;
    let at = point
        .iter()
        .map(AxisValue::text)
        .collect::<Vec<_>>()
        .join(", ");
    let err = |what, d: &Dim| {
        int(d, what, &at).map_err(|source| Error::Sweep {
            path: path.to_owned(),
            source,
        })
    };
    let report = TotalsReport::of(&profile);
    let [params, macs, flops, activation_bytes, peak_activation_bytes] =
        SweepRow::TOTALS.map(|k| err(k.key(), &k.of(&report)));
    let time_s = match hardware {
        Some(hw) => {
            let nodes =
                flopscope_report::Report::new(&path.display().to_string(), model, &profile).nodes;
            Some(
                flopscope_report::hardware::pass_time(&nodes, hw, &|_| None).map_err(|s| {
                    Error::Sweep {
                        path: path.to_owned(),
                        source: SweepError::Unbound(s),
                    }
                })?,
            )
        }
        None => None,
    };
    let row = SweepRow {
        values: point.iter().map(AxisValue::text).collect(),
        params: params?,
        macs: macs?,
        flops: flops?,
        activation_bytes: activation_bytes?,
        peak_activation_bytes: peak_activation_bytes?,
        peak_at: t.peak_at.clone(),
        time_s,
    };
    Ok((row, t.lower_bound))
}

/// `NAME=V1,V2,...`, integers (`--dim` of `sweep` and of `cargo xtask profile-zoo`; the
/// commands refuse a negative one, naming the flag).
pub fn parse_dim_values(s: &str) -> Result<(String, Vec<i64>), String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=V1,V2 (for example batch=1,32)"))?;
    let values = values
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .ok_or_else(|| format!("`{v}` in `{s}` is not a dim size"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.trim().to_owned(), values))
}
