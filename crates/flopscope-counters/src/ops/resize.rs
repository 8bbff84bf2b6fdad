//! Resampling: Resize, Upsample, GridSample, AffineGrid, Col2Im, RoiAlign, MaxRoiPool.
//!
//! Interpolation is counted as a weighted sum of its taps per output element: `taps` mul and
//! `taps − 1` add, with 2 taps per interpolated axis for linear and 4 for cubic (N-linear and
//! N-cubic interpolation multiply them), and 0 FLOPs for nearest (a copy). The per-axis weight
//! computations are per output index, not per element, and are not counted.

use flopscope_ir::{Dim, TensorType};

use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid, normalize_axis,
    product, shape_string,
};

/// `(p, q)` with `scale ≈ p/q` for a small `q`, so that `floor(d·scale) = floor(d·p/q)` for
/// symbolic `d` (exact for dyadic scales such as 2, 0.5, 1.5; within float32 rounding for
/// others such as 1/3).
fn as_ratio(scale: f64) -> Option<(i64, i64)> {
    (1..=64).find_map(|q| {
        let p = (scale * q as f64).round();
        ((scale * q as f64 - p).abs() <= 1e-5 * q as f64 && (0.0..1e12).contains(&p))
            .then_some((p as i64, q))
    })
}

/// `floor(d · scale)`.
fn scale_dim(cx: &InferCtx<'_>, d: &Dim, scale: f64) -> Result<Dim, OpError> {
    if !(scale.is_finite() && scale > 0.0) {
        return invalid!("scale {scale} must be positive");
    }
    if let Some(v) = d.as_i64() {
        return Ok(Dim::from_i64((v as f64 * scale).floor() as i64));
    }
    match as_ratio(scale) {
        Some((p, q)) => (d * p)
            .floor_div(q)
            .map_err(|e| OpError::Invalid(e.to_string())),
        None => Ok(cx.fresh_symbol("resized")),
    }
}

/// The axes that `scales` / `sizes` / `roi` refer to (the `axes` attribute from opset 18).
fn resize_axes(cx: &InferCtx<'_>, rank: usize) -> Result<Vec<usize>, OpError> {
    match cx.attr::<&[i64]>("axes")? {
        Some(a) => a.iter().map(|&a| normalize_axis(a, rank)).collect(),
        None => Ok((0..rank).collect()),
    }
}

/// The output shape of a resize of `x` by `scales` (one per axis in `axes`).
fn scaled_shape(
    cx: &InferCtx<'_>,
    x: &TensorType,
    axes: &[usize],
    scales: &[f64],
    roi: Option<&[f64]>,
) -> Result<Vec<Dim>, OpError> {
    if scales.len() != axes.len() {
        return invalid!(
            "scales {scales:?} must have one value per resized axis of X {x} ({} axes)",
            axes.len()
        );
    }
    let mut shape = x.shape.clone();
    for (i, (&a, &s)) in axes.iter().zip(scales).enumerate() {
        // tf_crop_and_resize: the output covers the roi only.
        let s = match roi {
            Some(roi) if roi.len() == 2 * axes.len() => s * (roi[axes.len() + i] - roi[i]),
            _ => s,
        };
        shape[a] = scale_dim(cx, &x.shape[a], s)?;
    }
    Ok(shape)
}

/// Sets output 0 to X's type with the sizes of `axes` derived (scales or sizes computed at
/// run time).
fn derive_resized(cx: &mut InferCtx<'_>, axes: &[usize], reason: &str) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut shape = x.shape.clone();
    for &a in axes {
        shape[a] = cx.derived_dim(&crate::ctx::derived_axis_name(0, a), reason);
    }
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

fn infer_resize(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let axes = resize_axes(cx, x.rank())?;
    let (scales_at, sizes_at) = if cx.opset() < 11 {
        (1, None)
    } else {
        (2, Some(3))
    };
    let has_values = |i: usize| -> Result<bool, OpError> {
        Ok(cx.has_input(i)
            && cx
                .opt_tensor(i)?
                .is_some_and(|t| t.numel().as_i64() != Some(0)))
    };
    let shape = match sizes_at {
        Some(si) if has_values(si)? => {
            let Some(sizes) = cx.ints(si)?.map(<[Dim]>::to_vec) else {
                // Sizes computed at run time: the resized axes' sizes are derived.
                let reason = cx.unknown_value_reason(si, "sizes");
                return derive_resized(cx, &axes, &reason);
            };
            if sizes.len() != axes.len() {
                return invalid!(
                    "sizes {} must have one value per resized axis of X {x}",
                    shape_string(&sizes)
                );
            }
            let policy = cx.attr_or("keep_aspect_ratio_policy", "stretch")?;
            let mut shape = x.shape.clone();
            match policy {
                "stretch" => {
                    for (&a, s) in axes.iter().zip(sizes) {
                        shape[a] = s;
                    }
                }
                "not_larger" | "not_smaller" => {
                    let ratios: Option<Vec<f64>> = axes
                        .iter()
                        .zip(&sizes)
                        .map(|(&a, s)| Some(s.as_i64()? as f64 / x.shape[a].as_i64()? as f64))
                        .collect();
                    let scale = ratios.and_then(|r| {
                        let it = r.into_iter();
                        if policy == "not_larger" {
                            it.reduce(f64::min)
                        } else {
                            it.reduce(f64::max)
                        }
                    });
                    for &a in &axes {
                        shape[a] = match (scale, x.shape[a].as_i64()) {
                            (Some(s), Some(d)) => {
                                Dim::from_i64((s * d as f64 + 0.5).floor() as i64)
                            }
                            _ => cx.fresh_symbol("resized"),
                        };
                    }
                }
                other => return invalid!("keep_aspect_ratio_policy `{other}` is not known"),
            }
            shape
        }
        _ => {
            if !cx.has_input(scales_at) {
                return invalid!("Resize needs scales or sizes");
            }
            let Some(scales) = cx
                .value(scales_at)?
                .and_then(flopscope_ir::TensorValue::as_f64s)
            else {
                let reason = cx.unknown_value_reason(scales_at, "scales");
                return derive_resized(cx, &axes, &reason);
            };
            let crop =
                cx.attr_or("coordinate_transformation_mode", "half_pixel")? == "tf_crop_and_resize";
            let roi = if crop && cx.opset() >= 11 {
                cx.value(1)?.and_then(flopscope_ir::TensorValue::as_f64s)
            } else {
                None
            };
            scaled_shape(cx, x, &axes, &scales, roi.as_deref())?
        }
    };
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

/// Taps of one interpolated axis of `mode`, or `None` for nearest.
fn base_taps(mode: &str) -> Option<i64> {
    match mode {
        "linear" | "bilinear" | "trilinear" => Some(2),
        "cubic" | "bicubic" => Some(4),
        _ => None,
    }
}

/// Weighted-sum cost of interpolating output 0 from input 0 over the axes whose size changes.
/// With `antialias`, a downscaled axis by a known factor `in/out` stretches the filter to
/// `⌈taps·in/out⌉` taps.
fn cost_interpolate(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let y = cx.req_output(0)?;
    let Some(base) = base_taps(cx.attr_or("mode", "nearest")?) else {
        return Ok(Cost::zero());
    };
    let antialias = cx.attr_or("antialias", 0i64)? != 0;
    let mut taps = 1i64;
    for (i, o) in x.shape.iter().zip(&y.shape) {
        if i == o {
            continue;
        }
        let t = match (i.as_i64(), o.as_i64()) {
            (Some(i), Some(o)) if antialias && o > 0 && o < i => (base * i + o - 1) / o,
            _ => base,
        };
        taps = taps.saturating_mul(t);
    }
    if taps == 1 {
        return Ok(Cost::zero());
    }
    let n = y.numel();
    Ok(Cost::zero().with_mul(&n * taps).with_add(n * (taps - 1)))
}

const RESIZE_FORMULA: &str = "nearest 0; linear/cubic: t = ∏ taps per resized axis (2 linear, 4 cubic, ⌈taps·in/out⌉ antialiased downscale): mul = t·numel(Y), add = (t − 1)·numel(Y)";

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Resize",
        class: OpClass::Other,
        opsets: Opsets::range(10, 10),
        roles: &[Role::Data, Role::Config],
        infer: infer_resize,
        cost: cost_interpolate,
        formula: RESIZE_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Resize",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config],
        infer: infer_resize,
        cost: cost_interpolate,
        formula: RESIZE_FORMULA,
    }
}

/// Upsample: `floor(d · scale)` per axis; scales from the `height_scale` / `width_scale`
/// attributes (opset 1-6, 4-D), the `scales` attribute (7-8) or input 1 (9-10).
fn infer_upsample(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let scales: Vec<f64> = if cx.opset() >= 9 {
        cx.value(1)?
            .and_then(flopscope_ir::TensorValue::as_f64s)
            .ok_or_else(|| OpError::NeedsValue {
                input: 1,
                name: cx.input_name(1),
                what: "scales",
            })?
    } else if cx.opset() >= 7 {
        cx.req_attr::<&[f32]>("scales")?
            .iter()
            .map(|&s| f64::from(s))
            .collect()
    } else {
        if x.rank() != 4 {
            return invalid!("Upsample-1 needs a 4-D X, it is {x}");
        }
        let h = f64::from(cx.req_attr::<f32>("height_scale")?);
        let w = f64::from(cx.req_attr::<f32>("width_scale")?);
        vec![1.0, 1.0, h, w]
    };
    let axes: Vec<usize> = (0..x.rank()).collect();
    let shape = scaled_shape(cx, x, &axes, &scales, None)?;
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Upsample",
        class: OpClass::Other,
        opsets: Opsets::range(1, 8),
        roles: &[Role::Data],
        infer: infer_upsample,
        cost: cost_interpolate,
        formula: RESIZE_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Upsample",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data, Role::Config],
        infer: infer_upsample,
        cost: cost_interpolate,
        formula: RESIZE_FORMULA,
    }
}

// ---- GridSample, AffineGrid ------------------------------------------------------------------

fn infer_grid_sample(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let grid = cx.tensor(1)?;
    let r = x.rank().saturating_sub(2);
    if x.rank() < 3 || grid.rank() != r + 2 {
        return invalid!("X {x} must be [N, C, D1..Dr] and grid {grid} [N, D1_out..Dr_out, r]");
    }
    if let Some(last) = grid.shape[r + 1].as_i64()
        && last != r as i64
    {
        return invalid!("grid {grid} must end in {r} coordinates for X {x}");
    }
    let mut shape = vec![x.shape[0].clone(), x.shape[1].clone()];
    shape.extend_from_slice(&grid.shape[1..=r]);
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

/// Per output element a weighted sum of taps (2 per spatial dim for linear, 4 for cubic, 0
/// FLOPs for nearest); per grid point and spatial dim, unnormalizing the coordinate (add 2,
/// mul 1) and, for nearest, rounding it (special 1).
fn cost_grid_sample(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let grid = cx.tensor(1)?;
    let y = cx.req_output(0)?;
    let r = grid.rank().saturating_sub(2) as u32;
    let coords = grid.numel();
    let mut cost = Cost::zero().with_add(&coords * 2).with_mul(coords.clone());
    match base_taps(cx.attr_or("mode", "linear")?) {
        Some(base) => {
            let taps = base.saturating_pow(r);
            let n = y.numel();
            cost = cost.with_mul(&n * taps).with_add(n * (taps - 1));
        }
        None => cost = cost.with_special(coords),
    }
    Ok(cost)
}

const GRID_SAMPLE_FORMULA: &str = "t = 2^r linear, 4^r cubic: mul = t·numel(Y) + numel(grid), add = (t − 1)·numel(Y) + 2·numel(grid); nearest: special = numel(grid)";

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GridSample",
        class: OpClass::Other,
        opsets: Opsets::since(16),
        roles: &[Role::Data, Role::Data],
        infer: infer_grid_sample,
        cost: cost_grid_sample,
        formula: GRID_SAMPLE_FORMULA,
    }
}

fn infer_affine_grid(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let theta = cx.tensor(0)?;
    let size = cx.req_ints(1, "the output size")?;
    let r = size.len().saturating_sub(2);
    if !(r == 2 || r == 3) || theta.rank() != 3 {
        return invalid!(
            "size {} must be [N, C, H, W] or [N, C, D, H, W] and theta {theta} 3-D",
            shape_string(size)
        );
    }
    let mut shape = vec![size[0].clone()];
    shape.extend_from_slice(&size[2..]);
    shape.push(Dim::from_i64(r as i64));
    let ty = TensorType::new(theta.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "AffineGrid",
        class: OpClass::Other,
        opsets: Opsets::since(20),
        roles: &[Role::Data, Role::Config],
        infer: infer_affine_grid,
        // Each grid point is theta [r, r+1] times its homogeneous base coordinate.
        cost: |cx| {
            let y = cx.req_output(0)?;
            let r = y.shape.last().cloned().unwrap_or_else(Dim::zero);
            Ok(Cost::macs(y.numel() * (r + 1)))
        },
        formula: "macs = numel(grid)·(r + 1)",
    }
}

// ---- Col2Im ----------------------------------------------------------------------------------

fn infer_col2im(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let image = cx.req_ints(1, "image_shape")?.to_vec();
    let block = cx.req_ints(2, "block_shape")?.to_vec();
    if x.rank() != 3 || image.len() != block.len() {
        return invalid!(
            "input {x} must be [N, C·∏block, L], image_shape {} and block_shape {} alike",
            shape_string(&image),
            shape_string(&block)
        );
    }
    let c = x.shape[1].div_exact(&product(&block)).ok_or_else(|| {
        OpError::Invalid(format!(
            "dim 1 of input {x} is not a multiple of ∏block_shape {}",
            shape_string(&block)
        ))
    })?;
    let mut shape = vec![x.shape[0].clone(), c];
    shape.extend(image);
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Col2Im",
        class: OpClass::Other,
        opsets: Opsets::since(18),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_col2im,
        cost: |cx| Ok(Cost::zero().with_add(cx.tensor(0)?.numel())),
        formula: "add = numel(input) (each column element accumulated into the image)",
    }
}

// ---- RoiAlign, MaxRoiPool --------------------------------------------------------------------

fn infer_roi_align(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rois = cx.tensor(1)?;
    if x.rank() != 4 || rois.rank() != 2 {
        return invalid!("X {x} must be [N, C, H, W] and rois {rois} [num_rois, 4]");
    }
    let h = cx.attr_or("output_height", 1i64)?;
    let w = cx.attr_or("output_width", 1i64)?;
    if h < 1 || w < 1 {
        return invalid!("output_height {h} and output_width {w} must be positive");
    }
    let ratio = cx.attr_or("sampling_ratio", 0i64)?;
    if ratio < 0 {
        return invalid!("sampling_ratio {ratio} must be 0 (adaptive) or positive");
    }
    let shape = vec![
        rois.shape[0].clone(),
        x.shape[1].clone(),
        Dim::from_i64(h),
        Dim::from_i64(w),
    ];
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

/// Per sample point a bilinear interpolation (4 taps: mul 4, add 3); per output element the
/// samples are averaged (add S − 1, div 1) or maxed (cmp S − 1). S = sampling_ratio²; with
/// the adaptive sampling_ratio 0, from the rois when they are known, else 2×2.
fn cost_roi_align(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let y = cx.req_output(0)?;
    let n = y.numel();
    let ratio = cx.attr_or("sampling_ratio", 0i64)?;
    let per_roi = &n;
    // Total sample points over all output elements.
    let samples = if ratio > 0 {
        // Checked: an absurd ratio overflows the count (an error), never the arithmetic.
        &(per_roi * ratio) * ratio
    } else {
        let (oh, ow) = (
            cx.attr_or("output_height", 1i64)?,
            cx.attr_or("output_width", 1i64)?,
        );
        let scale = f64::from(cx.attr_or("spatial_scale", 1.0f32)?);
        let per_element = (n.as_i64(), y.shape.first().and_then(Dim::as_i64));
        match (
            cx.value(1)?.and_then(flopscope_ir::TensorValue::as_f64s),
            per_element,
        ) {
            (Some(r), (Some(total), Some(k)))
                if k > 0
                    && k.checked_mul(4).and_then(|n| usize::try_from(n).ok()) == Some(r.len()) =>
            {
                let per_roi_elems = total / k;
                let (oh, ow) = (oh.max(1) as f64, ow.max(1) as f64);
                let mut sum = 0i64;
                for b in r.chunks_exact(4) {
                    let rw = ((b[2] - b[0]) * scale).max(1.0);
                    let rh = ((b[3] - b[1]) * scale).max(1.0);
                    // Float to int casts saturate; the product and the sum must too.
                    let (sh, sw) = ((rh / oh).ceil() as i64, (rw / ow).ceil() as i64);
                    sum = sum.saturating_add(sh.saturating_mul(sw).saturating_mul(per_roi_elems));
                }
                Dim::from_i64(sum)
            }
            _ => per_roi * 4,
        }
    };
    let cost = Cost::zero().with_mul(&samples * 4).with_add(&samples * 3);
    Ok(if cx.attr_or("mode", "avg")? == "max" {
        cost.with_cmp(&samples - &n)
    } else {
        cost.with_add(&samples - &n).with_div(n)
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RoiAlign",
        class: OpClass::Pooling,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_roi_align,
        cost: cost_roi_align,
        formula: "s = sample points: mul = 4s, add = 3s + (s − numel(Y)), div = numel(Y) (avg) or cmp = s − numel(Y) (max)",
    }
}

fn infer_max_roi_pool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rois = cx.tensor(1)?;
    if x.rank() != 4 || rois.rank() != 2 {
        return invalid!("X {x} must be [N, C, H, W] and rois {rois} [num_rois, 5]");
    }
    let pooled = cx.req_attr::<&[i64]>("pooled_shape")?;
    let [ph, pw] = pooled else {
        return invalid!("pooled_shape {pooled:?} must be [height, width]");
    };
    if *ph < 1 || *pw < 1 {
        return invalid!("pooled_shape {pooled:?} must be positive");
    }
    let shape = vec![
        rois.shape[0].clone(),
        x.shape[1].clone(),
        Dim::from_i64(*ph),
        Dim::from_i64(*pw),
    ];
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

/// Upper bound: each roi spans the whole map, bins of ⌈H/ph⌉·⌈W/pw⌉ elements.
fn cost_max_roi_pool(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let y = cx.req_output(0)?;
    let (Some(ph), Some(pw), [_, _, h, w]) = (
        y.shape.get(2).and_then(Dim::as_i64),
        y.shape.get(3).and_then(Dim::as_i64),
        x.shape.as_slice(),
    ) else {
        return invalid!("X {x} and Y {y} must be 4-D with a constant pooled shape");
    };
    let e = |e: flopscope_ir::DimError| OpError::Invalid(e.to_string());
    let bin = h.ceil_div(ph.max(1)).map_err(e)? * w.ceil_div(pw.max(1)).map_err(e)?;
    Ok(Cost::zero().with_cmp(y.numel() * (bin - 1).max(&Dim::zero())))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MaxRoiPool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config],
        infer: infer_max_roi_pool,
        cost: cost_max_roi_pool,
        formula: "cmp = numel(Y)·(⌈H/ph⌉·⌈W/pw⌉ − 1) (rois spanning the map: upper bound)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn resize_scales_sizes_and_axes() {
        // floor(4·0.6) = 2, floor(5·0.6) = 3; nearest costs nothing.
        let r = Case::new("Resize")
            .opset(13)
            .input(t("float32", &[1, 1, 4, 5]))
            .absent()
            .const_f32s(&[4], &[1.0, 1.0, 0.6, 0.6])
            .run();
        assert_eq!(r.shape(0), "[1, 1, 2, 3]");
        assert_eq!((r.flops_mul(), r.flops_add()), (0, 0));
        // Bilinear ×2 on [1, 1, 2, 2] → 16 outputs, 4 taps each: mul 64, add 48.
        let r = Case::new("Resize")
            .input(t("float32", &[1, 1, 2, 2]))
            .absent()
            .const_f32s(&[4], &[1.0, 1.0, 2.0, 2.0])
            .str("mode", "linear")
            .run();
        assert_eq!(r.shape(0), "[1, 1, 4, 4]");
        assert_eq!((r.flops_mul(), r.flops_add()), (64, 48));
        // Sizes over axes [3, 2] (opset 18), bicubic on both: 16 taps.
        let r = Case::new("Resize")
            .opset(18)
            .input(t("float32", &[1, 1, 4, 4]))
            .absent()
            .absent()
            .const_i64s(&[2], &[3, 2])
            .ints("axes", &[3, 2])
            .str("mode", "cubic")
            .run();
        assert_eq!(r.shape(0), "[1, 1, 2, 3]");
        assert_eq!((r.flops_mul(), r.flops_add()), (6 * 16, 6 * 15));
        // not_larger: scale min(7/4, 5/4) = 1.25 → [5, 5].
        let r = Case::new("Resize")
            .opset(18)
            .input(t("float32", &[1, 1, 4, 4]))
            .absent()
            .absent()
            .const_i64s(&[2], &[7, 5])
            .ints("axes", &[2, 3])
            .str("keep_aspect_ratio_policy", "not_larger")
            .run();
        assert_eq!(r.shape(0), "[1, 1, 5, 5]");
        // Opset 10: scales is input 1; symbolic dims scale exactly.
        let r = Case::new("Resize")
            .opset(10)
            .input_sym("float32", &["n", "3", "h", "w"])
            .const_f32s(&[4], &[1.0, 1.0, 2.0, 0.5])
            .run();
        assert_eq!(r.shape(0), "[n, 3, 2*h, floor(w/2)]");
    }

    #[test]
    fn resize_antialias_stretches_the_filter() {
        // Linear antialiased 8 → 4 on one axis: ⌈2·8/4⌉ = 4 taps, 4 outputs: mul 16, add 12.
        let r = Case::new("Resize")
            .opset(18)
            .input(t("float32", &[8]))
            .absent()
            .const_f32s(&[1], &[0.5])
            .str("mode", "linear")
            .int("antialias", 1)
            .run();
        assert_eq!(
            (r.shape(0), r.flops_mul(), r.flops_add()),
            ("[4]".into(), 16, 12)
        );
    }

    #[test]
    fn upsample_forms() {
        let r = Case::new("Upsample")
            .opset(9)
            .input(t("float32", &[1, 1, 2, 2]))
            .const_f32s(&[4], &[1.0, 1.0, 2.0, 3.0])
            .run();
        assert_eq!(r.shape(0), "[1, 1, 4, 6]");
        let r = Case::new("Upsample")
            .opset(7)
            .input(t("float32", &[1, 1, 2, 2]))
            .attr(
                "scales",
                flopscope_ir::Attr::Floats(vec![1.0, 1.0, 2.0, 2.0]),
            )
            .str("mode", "linear")
            .run();
        assert_eq!((r.shape(0), r.flops_mul()), ("[1, 1, 4, 4]".into(), 64));
    }

    #[test]
    fn grid_sample_and_affine_grid() {
        // Bilinear: Y [1, 3, 4, 5] = 60 elements × 4 taps; grid 40 coordinates.
        let r = Case::new("GridSample")
            .input(t("float32", &[1, 3, 8, 8]))
            .input(t("float32", &[1, 4, 5, 2]))
            .run();
        assert_eq!(r.shape(0), "[1, 3, 4, 5]");
        assert_eq!((r.flops_mul(), r.flops_add()), (240 + 40, 180 + 80));
        let r = Case::new("GridSample")
            .input(t("float32", &[1, 3, 8, 8]))
            .input(t("float32", &[1, 4, 5, 2]))
            .str("mode", "nearest")
            .run();
        assert_eq!((r.flops_mul(), r.flops_special()), (40, 40));
        let r = Case::new("AffineGrid")
            .opset(20)
            .input(t("float32", &[2, 2, 3]))
            .const_i64s(&[4], &[2, 3, 4, 5])
            .run();
        assert_eq!(r.shape(0), "[2, 4, 5, 2]");
        // 80 grid elements × 3.
        assert_eq!(r.macs(), 240);
    }

    #[test]
    fn col2im_roi_ops() {
        let r = Case::new("Col2Im")
            .opset(18)
            .input(t("float32", &[1, 5, 5]))
            .const_i64s(&[2], &[5, 5])
            .const_i64s(&[2], &[1, 5])
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[1, 1, 5, 5]".into(), 25));
        // sampling_ratio 2: 4 samples per output element; Y [3, 2, 2, 2] = 24.
        let r = Case::new("RoiAlign")
            .input(t("float32", &[1, 2, 10, 10]))
            .input(t("float32", &[3, 4]))
            .input(t("int64", &[3]))
            .int("output_height", 2)
            .int("output_width", 2)
            .int("sampling_ratio", 2)
            .run();
        assert_eq!(r.shape(0), "[3, 2, 2, 2]");
        assert_eq!(
            (r.flops_mul(), r.flops_add(), r.flops_div()),
            (96 * 4, 96 * 3 + 96 - 24, 24)
        );
        // Known roi 0..4 × 0..6 at output 2×2, adaptive: ⌈4/2⌉·⌈6/2⌉ = 6 samples.
        let r = Case::new("RoiAlign")
            .input(t("float32", &[1, 1, 10, 10]))
            .const_f32s(&[1, 4], &[0.0, 0.0, 6.0, 4.0])
            .input(t("int64", &[1]))
            .int("output_height", 2)
            .int("output_width", 2)
            .str("mode", "max")
            .run();
        assert_eq!((r.flops_mul(), r.flops_cmp()), (4 * 24, 24 - 4));
        // MaxRoiPool 2×2 on 6×6: bins of 9, 8 cmp per output, Y [2, 3, 2, 2] = 24.
        let r = Case::new("MaxRoiPool")
            .input(t("float32", &[1, 3, 6, 6]))
            .input(t("float32", &[2, 5]))
            .ints("pooled_shape", &[2, 2])
            .run();
        assert_eq!((r.shape(0), r.flops_cmp()), ("[2, 3, 2, 2]".into(), 24 * 8));
    }

    /// Found by `cargo fuzz run ops`: absurd sizes are errors, never arithmetic overflow.
    #[test]
    fn roi_ops_refuse_absurd_sizes() {
        let roi_align = |name: &str, v: i64| {
            Case::new("RoiAlign")
                .input(t("float32", &[1, 1, 10, 10]))
                .const_f32s(&[1, 4], &[0.0, 0.0, 6.0, 4.0])
                .input(t("int64", &[1]))
                .int(name, v)
        };
        let err = roi_align("output_height", 0).run_err();
        assert!(err.contains("must be positive"), "{err}");
        let err = roi_align("sampling_ratio", -1).run_err();
        assert!(err.contains("sampling_ratio"), "{err}");
        // 2^62 samples per side: the count overflows i64, reported as an overflow.
        let err = roi_align("sampling_ratio", 1 << 62).run_err();
        assert!(err.contains("overflow"), "{err}");
        // An adaptive count from an infinite roi saturates instead of wrapping, then the
        // cost (4 multiplications a sample) reports the overflow.
        let err = Case::new("RoiAlign")
            .input(t("float32", &[1, 1, 10, 10]))
            .const_f32s(&[1, 4], &[0.0, 0.0, f32::INFINITY, f32::INFINITY])
            .input(t("int64", &[1]))
            .run_err();
        assert!(err.contains("overflow"), "{err}");
        let err = Case::new("MaxRoiPool")
            .input(t("float32", &[1, 3, 6, 6]))
            .input(t("float32", &[2, 5]))
            .ints("pooled_shape", &[2, -2])
            .run_err();
        assert!(err.contains("must be positive"), "{err}");
    }
}
