//! Signal processing: `DFT`, `STFT`, the window generators (`HannWindow`, `HammingWindow`,
//! `BlackmanWindow`), `MelWeightMatrix`, and `Det`.
//!
//! Fourier transforms are costed as radix-2 FFTs: a complex transform of length `n` takes
//! `(n/2)·L` butterflies, `L = ⌈log2 n⌉`, each one complex multiplication (4 `mul`, 2 `add`)
//! and two complex additions (4 `add`): `mul = 2·n·L`, `add = 3·n·L`. A real-input (RFFT) or
//! real-output (IRFFT) transform counts half of that (`mul = n·L`, `add = ⌊3·n·L/2⌋`). The
//! inverse scales every output value by `1/n` (one `div` per output element). When `n` is a
//! symbol, `log2` cannot be written in the dim algebra, and the transform is costed as a
//! direct DFT instead (`mul = add = 4·n²` per complex transform, half for real ones).

use flopscope_ir::{DType, Dim, TensorType};

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// The cost of `count` transforms of length `n`; `real`: real input or real output.
fn fft_cost(count: &Dim, n: &Dim, real: bool) -> Cost {
    let (mul, add) = match n.as_i64() {
        Some(len) if len > 1 => {
            // ⌈log2 n⌉
            let l = i64::from(64 - (len - 1).leading_zeros());
            let nl = len.saturating_mul(l);
            if real {
                (Dim::from_i64(nl), Dim::from_i64(nl.saturating_mul(3) / 2))
            } else {
                (
                    Dim::from_i64(nl.saturating_mul(2)),
                    Dim::from_i64(nl.saturating_mul(3)),
                )
            }
        }
        Some(_) => (Dim::zero(), Dim::zero()),
        None => {
            let direct = n * n * if real { 2 } else { 4 };
            (direct.clone(), direct)
        }
    };
    Cost::zero().with_mul(count * mul).with_add(count * add)
}

/// The DFT's axis: the `axis` attribute (opset 17–19, default 1) or input 2 (opset 20+,
/// default −2), in `[-r, -2] ∪ [0, r − 2]`.
fn dft_axis(cx: &InferCtx<'_>, rank: usize) -> Result<usize, OpError> {
    let axis = if cx.opset() >= 20 {
        if cx.has_input(2) {
            match cx.req_i64s(2, "axis")?.as_slice() {
                [a] => *a,
                other => return invalid!("axis {other:?} is not a scalar"),
            }
        } else {
            -2
        }
    } else {
        cx.attr_or("axis", 1i64)?
    };
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r - 1).contains(&a) {
        Ok(a as usize)
    } else {
        invalid!("axis {axis} is not a signal axis of a rank-{rank} input")
    }
}

/// The `dft_length` input (a scalar), when given.
fn dft_length(cx: &InferCtx<'_>) -> Result<Option<Dim>, OpError> {
    if !cx.has_input(1) {
        return Ok(None);
    }
    match cx.req_ints(1, "dft_length")? {
        [n] => Ok(Some(n.clone())),
        other => invalid!("dft_length has {} values, expected a scalar", other.len()),
    }
}

/// `DFT`: input [..., n_axis, ..., 1 or 2] → output with `dft_length` (or its one-sided
/// half) on the axis, and 2 (complex) last, or 1 for IRFFT.
fn infer_dft(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() < 2 {
        return invalid!("input has shape {}, expected [..., signal, 1 or 2]", x);
    }
    let axis = dft_axis(cx, x.rank())?;
    let inverse = cx.attr_or("inverse", 0i64)? != 0;
    let onesided = cx.attr_or("onesided", 0i64)? != 0;
    let irfft = inverse && onesided;
    let n = match dft_length(cx)? {
        Some(n) => n,
        None if irfft => (&x.shape[axis] - 1) * 2,
        None => x.shape[axis].clone(),
    };
    let mut shape = x.shape.clone();
    let last = shape.len() - 1;
    shape[axis] = if onesided && !inverse {
        n.floor_div(2)
            .map_err(|e| OpError::Invalid(e.to_string()))?
            + 1
    } else {
        n
    };
    shape[last] = Dim::from_i64(if irfft { 1 } else { 2 });
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

fn cost_dft(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let y = cx.req_output(0)?;
    let inverse = cx.attr_or("inverse", 0i64)? != 0;
    let onesided = cx.attr_or("onesided", 0i64)? != 0;
    // The transform axis, as the inference found it (the output's rank equals the input's).
    let rank = x.rank();
    let axis = if cx.opset() >= 20 {
        match cx.ints(2)? {
            Some([a]) => a.as_i64().unwrap_or(-2),
            _ => -2,
        }
    } else {
        cx.attr_or("axis", 1i64)?
    };
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    let axis = usize::try_from(axis)
        .ok()
        .filter(|&a| a + 1 < rank)
        .ok_or_else(|| OpError::Invalid(format!("axis {axis} is out of range")))?;
    // The transform length is the full (not one-sided) length.
    let n = if onesided && !inverse {
        match cx.ints(1)? {
            Some([n]) => n.clone(),
            _ => x.shape[axis].clone(),
        }
    } else {
        y.shape[axis].clone()
    };
    // One transform per position of every axis but the transformed one and the last.
    let transforms: Dim = y.shape[..rank - 1]
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != axis)
        .map(|(_, d)| d)
        .product();
    let mut cost = fft_cost(&transforms, &n, onesided);
    if inverse {
        cost = cost.with_div(y.numel());
    }
    Ok(cost)
}

const FFT_FORMULA: &str = "per transform of length n, L = ⌈log2 n⌉: mul = 2·n·L, add = 3·n·L \
                           (half for onesided); div = numel(Y) when inverse; symbolic n: \
                           mul = add = 4·n²";

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DFT",
        class: OpClass::Other,
        opsets: Opsets::range(17, 19),
        roles: &[Role::Data, Role::Config],
        infer: infer_dft,
        cost: cost_dft,
        formula: FFT_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DFT",
        class: OpClass::Other,
        opsets: Opsets::since(20),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_dft,
        cost: cost_dft,
        formula: FFT_FORMULA,
    }
}

/// A scalar integer input.
fn scalar(cx: &InferCtx<'_>, i: usize, what: &'static str) -> Result<Dim, OpError> {
    match cx.req_ints(i, what)? {
        [v] => Ok(v.clone()),
        other => invalid!("{what} has {} values, expected a scalar", other.len()),
    }
}

/// `STFT` (signal [B, L, 1 or 2], frame_step, window [n], frame_length) → [B, frames, bins, 2]
/// with `frames = ⌊(L − n)/frame_step⌋ + 1` and `bins = ⌊n/2⌋ + 1` when one-sided, else `n`.
fn infer_stft(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let signal = cx.tensor(0)?;
    if signal.rank() != 3 {
        return invalid!(
            "signal has shape {}, expected [batch, length, 1 or 2]",
            signal
        );
    }
    let step = scalar(cx, 1, "frame_step")?;
    let step = step
        .as_i64()
        .filter(|&s| s > 0)
        .ok_or_else(|| OpError::Invalid(format!("frame_step {step} is not a positive integer")))?;
    let n = if cx.has_input(3) {
        scalar(cx, 3, "frame_length")?
    } else if let Some(w) = cx.opt_tensor(2)? {
        match w.shape.as_slice() {
            [n] => n.clone(),
            _ => return invalid!("window has shape {}, expected rank 1", w),
        }
    } else {
        return invalid!("STFT needs a window or a frame_length");
    };
    let frames = (&signal.shape[1] - &n)
        .floor_div(step)
        .map_err(|e| OpError::Invalid(e.to_string()))?
        + 1;
    let bins = if cx.attr_or("onesided", 1i64)? != 0 {
        n.floor_div(2)
            .map_err(|e| OpError::Invalid(e.to_string()))?
            + 1
    } else {
        n
    };
    let shape = vec![signal.shape[0].clone(), frames, bins, Dim::from_i64(2)];
    let dtype = signal.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// One FFT of length n per frame (`batch·frames` transforms), real when one-sided, and the
/// window's `mul` per frame sample when a window is given.
fn cost_stft(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let y = cx.req_output(0)?;
    let onesided = cx.attr_or("onesided", 1i64)? != 0;
    let n = match (cx.ints(3)?, cx.opt_tensor(2)?) {
        (Some([n]), _) => n.clone(),
        (_, Some(w)) if w.rank() == 1 => w.shape[0].clone(),
        _ => y.shape[2].clone(),
    };
    let frames = &y.shape[0] * &y.shape[1];
    let mut cost = fft_cost(&frames, &n, onesided);
    if cx.has_input(2) {
        cost = cost.with_mul(&frames * &n);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "STFT",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Data, Role::Config, Role::Config, Role::Config],
        infer: infer_stft,
        cost: cost_stft,
        formula: "batch·frames FFTs of length n (see DFT; real when onesided); mul = \
                  batch·frames·n with a window",
    }
}

/// The `output_datatype` attribute (default float32).
fn output_datatype(cx: &InferCtx<'_>) -> Result<DType, OpError> {
    let code = cx.attr_or("output_datatype", 1i64)?;
    i32::try_from(code)
        .ok()
        .and_then(DType::from_code)
        .ok_or_else(|| OpError::Invalid(format!("output_datatype {code} is not a known type")))
}

/// Window generators: `size` (a scalar) → [size].
fn infer_window(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let size = scalar(cx, 0, "size")?;
    let dtype = output_datatype(cx)?;
    cx.set(0, TensorType::new(dtype, vec![size]));
    Ok(())
}

/// Per element and cosine term `a·cos(2πk·n/N)`: 1 `special` (cos), 2 `mul` (angle and
/// coefficient), 1 `div` (by N), 1 `add`.
fn window_cost(cx: &CostCtx<'_>, terms: i64) -> Result<Cost, OpError> {
    let n = cx.req_output(0)?.numel() * terms;
    Ok(Cost::zero()
        .with_special(n.clone())
        .with_mul(&n * 2)
        .with_div(n.clone())
        .with_add(n))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "HannWindow",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Config],
        infer: infer_window,
        cost: |cx| window_cost(cx, 1),
        formula: "special = div = add = N, mul = 2·N (one cosine term)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "HammingWindow",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Config],
        infer: infer_window,
        cost: |cx| window_cost(cx, 1),
        formula: "special = div = add = N, mul = 2·N (one cosine term)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "BlackmanWindow",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Config],
        infer: infer_window,
        cost: |cx| window_cost(cx, 2),
        formula: "special = div = add = 2·N, mul = 4·N (two cosine terms)",
    }
}

/// `MelWeightMatrix` (num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
/// upper_edge_hertz) → [⌊dft_length/2⌋ + 1, num_mel_bins].
fn infer_mel_weight_matrix(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let mel_bins = scalar(cx, 0, "num_mel_bins")?;
    let dft_length = scalar(cx, 1, "dft_length")?;
    let bins = dft_length
        .floor_div(2)
        .map_err(|e| OpError::Invalid(e.to_string()))?
        + 1;
    let dtype = output_datatype(cx)?;
    cx.set(0, TensorType::new(dtype, vec![bins, mel_bins]));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MelWeightMatrix",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Config],
        infer: infer_mel_weight_matrix,
        cost: |cx| {
            // Per weight: which side of the triangle (2 cmp), the distance to its edge
            // (add) and the slope (div); the mel scale of every band edge is negligible.
            let n = cx.req_output(0)?.numel();
            Ok(Cost::zero()
                .with_cmp(&n * 2)
                .with_add(n.clone())
                .with_div(n))
        },
        formula: "cmp = 2·numel(Y), add = div = numel(Y)",
    }
}

/// `Det`: X [*, M, M] → Y [*].
fn infer_det(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let r = x.rank();
    if r < 2 {
        return invalid!("input has shape {}, expected [*, M, M]", x);
    }
    if let (Some(a), Some(b)) = (x.shape[r - 2].as_i64(), x.shape[r - 1].as_i64())
        && a != b
    {
        return invalid!("input {} is not a batch of square matrices", x);
    }
    let shape = x.shape[..r - 2].to_vec();
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// LU factorisation with partial pivoting per M×M matrix: `div = M(M − 1)/2` (multipliers),
/// `mul = add = (M − 1)M(2M − 1)/6` (row updates), `cmp = M(M − 1)/2` (pivot search), and
/// `mul = M − 1` for the product of the diagonal.
fn cost_det(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let r = x.rank();
    let m = &x.shape[r - 1];
    let count = cx.req_output(0)?.numel();
    let err = |e: flopscope_ir::DimError| OpError::Invalid(e.to_string());
    let pairs = (m * (m - 1)).floor_div(2).map_err(err)?;
    let updates = ((m - 1) * m * (m * 2 - 1)).floor_div(6).map_err(err)?;
    Ok(Cost::zero()
        .with_div(&count * &pairs)
        .with_cmp(&count * &pairs)
        .with_mul(&count * (&updates + m - 1))
        .with_add(&count * &updates))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Det",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data],
        infer: infer_det,
        cost: cost_det,
        formula: "per M×M matrix: div = cmp = M(M − 1)/2, mul = (M − 1)M(2M − 1)/6 + M − 1, \
                  add = (M − 1)M(2M − 1)/6",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn dft_shapes_across_opsets() {
        // opset 20: axis as input; 10 x 10 complex transforms of length 10 along axis 1.
        let r = Case::new("DFT")
            .input(t("float32", &[1, 10, 10, 1]))
            .absent()
            .const_i64s(&[], &[1])
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[1, 10, 10, 2]");
        // L = ⌈log2 10⌉ = 4; 10 transforms: mul = 2·10·4, add = 3·10·4 each.
        assert_eq!(r.flops_mul(), 10 * 2 * 10 * 4);
        assert_eq!(r.flops_add(), 10 * 3 * 10 * 4);
        // opset 17: axis attribute; one-sided.
        let r = Case::new("DFT")
            .input(t("float32", &[1, 10, 10, 1]))
            .int("axis", 1)
            .int("onesided", 1)
            .opset(17)
            .run();
        assert_eq!(r.shape(0), "[1, 6, 10, 2]");
        assert_eq!(r.flops_mul(), 10 * 10 * 4);
        assert_eq!(r.flops_add(), 10 * (3 * 10 * 4 / 2));
        // IRFFT: default length 2·(6 − 1) = 10, real output, 1/n scaling.
        let r = Case::new("DFT")
            .input(t("float32", &[1, 6, 10, 2]))
            .int("axis", 1)
            .int("inverse", 1)
            .int("onesided", 1)
            .opset(19)
            .run();
        assert_eq!(r.shape(0), "[1, 10, 10, 1]");
        assert_eq!(r.flops_div(), 100);
        // dft_length input and the default axis −2 of opset 20.
        let r = Case::new("DFT")
            .input(t("float32", &[3, 16, 2]))
            .const_i64s(&[], &[32])
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[3, 32, 2]");
        assert_eq!(r.flops_mul(), 3 * 2 * 32 * 5);
    }

    #[test]
    fn dft_of_symbolic_length_is_a_direct_dft() {
        let r = Case::new("DFT")
            .input_sym("float32", &["b", "n", "2"])
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[b, n, 2]");
        assert_eq!(r.flops_mul_expr(), "4*b*n*n");
    }

    #[test]
    fn stft_by_hand() {
        let r = Case::new("STFT")
            .input(t("float32", &[1, 128, 1]))
            .const_i64s(&[], &[8])
            .input(t("float32", &[16]))
            .opset(17)
            .run();
        // frames ⌊(128 − 16)/8⌋ + 1 = 15, bins 16/2 + 1 = 9.
        assert_eq!(r.shape(0), "[1, 15, 9, 2]");
        // 15 real FFTs of 16 (L = 4): mul = 16·4, add = 3·16·4/2; window 15·16.
        assert_eq!(r.flops_mul(), 15 * 64 + 15 * 16);
        assert_eq!(r.flops_add(), 15 * 96);
        let r = Case::new("STFT")
            .input(t("float32", &[2, 100, 2]))
            .const_i64s(&[], &[10])
            .absent()
            .const_i64s(&[], &[20])
            .int("onesided", 0)
            .opset(17)
            .run();
        assert_eq!(r.shape(0), "[2, 9, 20, 2]");
    }

    #[test]
    fn windows_mel_and_det_by_hand() {
        let r = Case::new("HannWindow")
            .const_i64s(&[], &[10])
            .opset(17)
            .run();
        assert_eq!(r.shape(0), "[10]");
        assert_eq!(r.dtype(0), flopscope_ir::DType::Float32);
        assert_eq!((r.flops_special(), r.flops_mul()), (10, 20));
        let r = Case::new("BlackmanWindow")
            .const_i64s(&[], &[10])
            .int("output_datatype", 11)
            .opset(17)
            .run();
        assert_eq!(r.dtype(0), flopscope_ir::DType::Float64);
        assert_eq!((r.flops_special(), r.flops_add()), (20, 20));

        let r = Case::new("MelWeightMatrix")
            .const_i64s(&[], &[8])
            .const_i64s(&[], &[16])
            .const_i64s(&[], &[8192])
            .const_f32s(&[], &[0.0])
            .const_f32s(&[], &[4096.0])
            .opset(17)
            .run();
        assert_eq!(r.shape(0), "[9, 8]");
        assert_eq!(r.flops_cmp(), 144);

        let r = Case::new("Det").input(t("float32", &[3, 4, 4])).run();
        assert_eq!(r.shape(0), "[3]");
        // M = 4: 6 multipliers, 3·4·7/6 = 14 updates, 3 diagonal products.
        assert_eq!(r.flops_div(), 3 * 6);
        assert_eq!(r.flops_mul(), 3 * (14 + 3));
        assert_eq!(r.flops_add(), 3 * 14);
        let r = Case::new("Det").input(t("float32", &[2, 2])).run();
        assert_eq!(r.shape(0), "[]");
        let err = Case::new("Det").input(t("float32", &[2, 3])).run_err();
        assert!(err.contains("square"), "{err}");
    }
}
