//! Convolutions.

use flopscope_ir::{DType, Dim, TensorType};

use super::window::Window;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid, product};

/// The output shape of a convolution: X [N, C, D1..Dn] with weight W [M, C/group, k1..kn] (and
/// `kernel_shape`, `strides`, `dilations`, `pads`, `auto_pad`, `group`) gives [N, M, O1..On].
fn conv_output_shape(
    cx: &InferCtx<'_>,
    x: &TensorType,
    w: &TensorType,
) -> Result<Vec<Dim>, OpError> {
    if x.rank() < 3 {
        return invalid!("input X has shape {}, expected [N, C, spatial...]", x);
    }
    if w.rank() != x.rank() {
        return invalid!("weight W has shape {} but X has rank {}", w, x.rank());
    }
    let group = cx.attr_or("group", 1i64)?;
    if group < 1 {
        return invalid!("group {group} is not positive");
    }
    let channels_per_group = &w.shape[1];
    let expected_c = channels_per_group * group;
    if let (Some(c), Some(e)) = (x.shape[1].as_i64(), expected_c.as_i64())
        && c != e
    {
        return invalid!(
            "X has {c} channels but W {} with group {group} expects {e}",
            w
        );
    }
    let kernel = kernel_of(cx, w, x.rank() - 2)?;
    let window = Window::read(cx, kernel)?;
    let mut shape = vec![x.shape[0].clone(), w.shape[0].clone()];
    shape.extend(window.output(&x.shape[2..])?);
    Ok(shape)
}

/// The kernel's spatial dims: `kernel_shape`, else the weight's dims from axis 2 on.
fn kernel_of(cx: &InferCtx<'_>, w: &TensorType, spatial: usize) -> Result<Vec<Dim>, OpError> {
    let kernel: Vec<Dim> = match cx.attr::<&[i64]>("kernel_shape")? {
        Some(k) => k.iter().map(|&v| Dim::from_i64(v)).collect(),
        None => w.shape.get(2..).unwrap_or_default().to_vec(),
    };
    if kernel.len() != spatial {
        return invalid!(
            "kernel_shape has {} axes for {spatial} spatial axes",
            kernel.len()
        );
    }
    Ok(kernel)
}

/// `Conv`: X [N, C, D1..Dn], W [M, C/group, k1..kn], optional B [M] → Y [N, M, O1..On].
pub(super) fn infer_conv(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let shape = conv_output_shape(cx, x, w)?;
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Every output element is a dot product over one group's input channels and the kernel
/// window: `macs = numel(Y) · (C/group) · ∏k`; the bias adds one `add` per output element.
pub(super) fn cost_conv(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let w = cx.tensor(1)?;
    let y = cx.req_output(0)?;
    let per_output = product(&w.shape[1..]);
    let mut cost = Cost::macs(y.numel() * per_output);
    if cx.has_input(2) {
        cost = cost.with_add(y.numel());
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Conv",
        class: OpClass::Conv,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_conv,
        cost: cost_conv,
        formula: "macs = numel(Y)·(C/group)·∏kernel; add = numel(Y) with bias",
    }
}

/// Reads a per-spatial-axis list attribute (`strides`, `dilations`, `output_padding`).
fn axis_list(cx: &InferCtx<'_>, name: &str, n: usize, default: i64) -> Result<Vec<i64>, OpError> {
    match cx.attr::<&[i64]>(name)? {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == n => Ok(v.to_vec()),
        Some(v) => invalid!(
            "attribute `{name}` has {} values for {n} spatial axes",
            v.len()
        ),
    }
}

/// `ConvTranspose`: X [N, C, D1..Dn], W [C, M/group, k1..kn] → Y [N, M, O1..On] with
/// `Oi = stride·(Di − 1) + output_padding + (ki − 1)·dilation + 1 − pad_begin − pad_end`;
/// `Di·stride` under `SAME_*`; the `output_shape` attribute, when given, wins.
fn infer_conv_transpose(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    if x.rank() < 3 {
        return invalid!("input X has shape {}, expected [N, C, spatial...]", x);
    }
    if w.rank() != x.rank() {
        return invalid!("weight W has shape {} but X has rank {}", w, x.rank());
    }
    let group = cx.attr_or("group", 1i64)?;
    if group < 1 {
        return invalid!("group {group} is not positive");
    }
    if let (Some(c), Some(wc)) = (x.shape[1].as_i64(), w.shape[0].as_i64())
        && c != wc
    {
        return invalid!("X has {c} channels but W {} expects {wc}", w);
    }
    let n = x.rank() - 2;
    let kernel = kernel_of(cx, w, n)?;
    let strides = axis_list(cx, "strides", n, 1)?;
    let dilations = axis_list(cx, "dilations", n, 1)?;
    let output_padding = axis_list(cx, "output_padding", n, 0)?;
    if strides.iter().chain(&dilations).any(|&v| v < 1) {
        return invalid!("strides {strides:?} and dilations {dilations:?} must be positive");
    }
    let pads = match cx.attr::<&[i64]>("pads")? {
        None => vec![0; 2 * n],
        Some(p) if p.len() == 2 * n => p.to_vec(),
        Some(p) => {
            return invalid!(
                "attribute `pads` has {} values for {n} spatial axes",
                p.len()
            );
        }
    };
    let auto_pad = cx.attr_or::<&str>("auto_pad", "NOTSET")?;
    let output_shape = match cx.attr::<&[i64]>("output_shape")? {
        None => None,
        Some(o) if o.len() == n => Some(o),
        // Some exporters write the full [N, M, O1..On].
        Some(o) if o.len() == n + 2 => Some(&o[2..]),
        Some(o) => {
            return invalid!(
                "attribute `output_shape` {o:?} has {} values for {n} spatial axes",
                o.len()
            );
        }
    };
    let mut shape = vec![x.shape[0].clone(), &w.shape[1] * group];
    for i in 0..n {
        let input = &x.shape[2 + i];
        let dim = match (output_shape, auto_pad) {
            (Some(o), _) => Dim::from_i64(o[i]),
            (None, "SAME_UPPER" | "SAME_LOWER") => input * strides[i],
            (None, "NOTSET" | "" | "VALID") => {
                let (pb, pe) = if auto_pad == "VALID" {
                    (0, 0)
                } else {
                    (pads[i], pads[i + n])
                };
                (input - 1) * strides[i] + output_padding[i] + (&kernel[i] - 1) * dilations[i] + 1
                    - pb
                    - pe
            }
            (None, other) => {
                return invalid!(
                    "auto_pad `{other}` is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
                );
            }
        };
        if let Some(v) = dim.as_i64()
            && v < 1
        {
            return invalid!("spatial axis {i} of X {} gives an output of size {v}", x);
        }
        shape.push(dim);
    }
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Every input element is scattered through its group's `M/group` output channels and the
/// kernel window: `macs = numel(X) · (M/group) · ∏k` (the transpose of Conv's count, padding
/// crops included); the bias adds one `add` per output element.
fn cost_conv_transpose(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let y = cx.req_output(0)?;
    let mut cost = Cost::macs(x.numel() * product(&w.shape[1..]));
    if cx.has_input(2) {
        cost = cost.with_add(y.numel());
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ConvTranspose",
        class: OpClass::Conv,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_conv_transpose,
        cost: cost_conv_transpose,
        formula: "macs = numel(X)·(M/group)·∏kernel; add = numel(Y) with bias",
    }
}

/// `ConvInteger`: Conv's shape, int32 output.
fn infer_conv_integer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let shape = conv_output_shape(cx, x, w)?;
    cx.set(0, TensorType::new(DType::Int32, shape));
    Ok(())
}

/// Conv's MACs, plus one `add` per element of X and of W for subtracting a given zero point.
fn cost_conv_integer(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let y = cx.req_output(0)?;
    let mut cost = Cost::macs(y.numel() * product(&w.shape[1..]));
    if cx.has_input(2) {
        cost = cost.with_add(x.numel());
    }
    if cx.has_input(3) {
        cost = cost.with_add(w.numel());
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ConvInteger",
        class: OpClass::Conv,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Weight, Role::Quant, Role::Quant],
        infer: infer_conv_integer,
        cost: cost_conv_integer,
        formula: "macs = numel(Y)·(C/group)·∏kernel; add = numel(X) with x_zero_point + \
                  numel(W) with w_zero_point",
    }
}

/// `QLinearConv` (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
/// B): Conv's shape, in y_zero_point's type.
fn infer_qlinear_conv(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(3)?;
    let shape = conv_output_shape(cx, x, w)?;
    let dtype = cx.opt_tensor(7)?.map_or(x.dtype, |z| z.dtype);
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Conv's MACs on zero-point-shifted operands (`add = numel(X) + numel(W)`), the int32 bias
/// (`add = numel(Y)`), then requantization per output element: one `mul` (the combined scale),
/// one `special` (rounding), one `add` (y_zero_point) and one `cmp` (saturation).
fn cost_qlinear_conv(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(3)?;
    let y = cx.req_output(0)?.numel();
    let bias = if cx.has_input(8) {
        y.clone()
    } else {
        Dim::zero()
    };
    Ok(Cost::macs(&y * product(&w.shape[1..]))
        .with_add(x.numel() + w.numel() + bias + &y)
        .with_mul(y.clone())
        .with_special(y.clone())
        .with_cmp(y))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "QLinearConv",
        class: OpClass::Conv,
        opsets: Opsets::since(10),
        roles: &[
            Role::Data,
            Role::Quant,
            Role::Quant,
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Quant,
            Role::Quant,
            Role::Bias,
        ],
        infer: infer_qlinear_conv,
        cost: cost_qlinear_conv,
        formula: "macs = numel(Y)·(C/group)·∏kernel; add = numel(X) + numel(W) (zero points) + \
                  numel(Y) (y_zero_point) + numel(Y) with B; mul = special (round) = cmp \
                  (saturate) = numel(Y)",
    }
}

/// `DeformConv` (X, W, offset, B, mask): Conv's shape.
fn infer_deform_conv(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let offset = cx.tensor(2)?;
    let shape = conv_output_shape(cx, x, w)?;
    if offset.rank() != x.rank() {
        return invalid!("offset has shape {} but X has rank {}", offset, x.rank());
    }
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Conv's MACs over sampled inputs, plus the sampling: with `n` spatial axes, every input
/// channel is read at every kernel tap of every output position, `S = N·C·∏out·∏k` samples,
/// each a linear interpolation of `2^n` neighbours (`mul = 2^n·S`, `add = (2^n − 1)·S`) and
/// one `mul` by the mask when given; the sampling coordinates add the offsets
/// (`add = numel(offset)`), and the bias one `add` per output element.
fn cost_deform_conv(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    let offset = cx.tensor(2)?;
    let y = cx.req_output(0)?;
    let spatial = x.rank().saturating_sub(2);
    let kernel = product(w.shape.get(2..).unwrap_or_default());
    let samples =
        &x.shape[0] * &x.shape[1] * product(y.shape.get(2..).unwrap_or_default()) * kernel;
    let corners = Dim::from_i64(2).checked_pow(spatial as u32);
    let mut cost = Cost::macs(y.numel() * product(&w.shape[1..]))
        .with_mul(&samples * &corners)
        .with_add(&samples * (&corners - 1) + offset.numel());
    if cx.has_input(3) {
        cost = cost.with_add(y.numel());
    }
    if cx.has_input(4) {
        cost = cost.with_mul(samples);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DeformConv",
        class: OpClass::Conv,
        opsets: Opsets::since(19),
        roles: &[Role::Data, Role::Weight, Role::Data, Role::Bias, Role::Data],
        infer: infer_deform_conv,
        cost: cost_deform_conv,
        formula: "macs = numel(Y)·(C/group)·∏kernel; S = N·C·∏out·∏kernel samples: \
                  mul = 2^n·S (+ S with mask), add = (2^n − 1)·S + numel(offset) + numel(Y) \
                  with B",
    }
}

/// `CausalConvWithState` (input [B, C, L], weight [C, 1, k], bias [C], past_state
/// [B, C, k − 1]) → output [B, C, L], present_state [B, C, k − 1].
fn infer_causal_conv_with_state(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let w = cx.tensor(1)?;
    if x.rank() != 3 {
        return invalid!("input has shape {}, expected [batch, channels, length]", x);
    }
    if w.rank() != 3 {
        return invalid!("weight has shape {}, expected [channels, 1, k]", w);
    }
    let state = vec![x.shape[0].clone(), x.shape[1].clone(), &w.shape[2] - 1];
    if let Some(past) = cx.opt_tensor(3)?
        && past.rank() != 3
    {
        return invalid!(
            "past_state has shape {}, expected [batch, channels, k − 1]",
            past
        );
    }
    let x = x.clone();
    cx.set(1, TensorType::new(x.dtype, state));
    cx.set(0, x);
    Ok(())
}

/// A depthwise causal convolution: `macs = numel(Y)·k`; the bias one `add` per output; the
/// fused SiLU `x·sigmoid(x)` one `special` (exp), `add`, `div` and `mul` per output.
fn cost_causal_conv_with_state(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let w = cx.tensor(1)?;
    let y = cx.req_output(0)?.numel();
    let mut cost = Cost::macs(&y * &w.shape[2]);
    if cx.has_input(2) {
        cost = cost.with_add(y.clone());
    }
    match cx.attr_or::<&str>("activation", "none")? {
        "none" | "" => {}
        "silu" | "swish" => {
            cost = cost
                .with_special(y.clone())
                .with_add(y.clone())
                .with_div(y.clone())
                .with_mul(y);
        }
        other => return invalid!("activation `{other}` is not one of silu, swish, none"),
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "CausalConvWithState",
        class: OpClass::Other,
        opsets: Opsets::since(27),
        roles: &[Role::Data, Role::Weight, Role::Bias, Role::Data],
        infer: infer_causal_conv_with_state,
        cost: cost_causal_conv_with_state,
        formula: "macs = numel(Y)·k; add = numel(Y) with bias; silu/swish: special (exp) = add = \
                  div = mul = numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn conv_output_and_macs_by_hand() {
        // MobileNetV2's stem: 3→32 channels, 3x3, stride 2, pad 1, on 1x3x224x224.
        let r = Case::new("Conv")
            .input(t("float32", &[1, 3, 224, 224]))
            .weight(t("float32", &[32, 3, 3, 3]))
            .weight(t("float32", &[32]))
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .run();
        assert_eq!(r.shape(0), "[1, 32, 112, 112]");
        let outputs = 32 * 112 * 112;
        assert_eq!(r.macs(), outputs * 3 * 3 * 3);
        assert_eq!(r.flops_add(), outputs);
        assert_eq!(r.params(), 32 * 3 * 3 * 3 + 32);
    }

    #[test]
    fn depthwise_conv_counts_one_channel_per_output() {
        let r = Case::new("Conv")
            .input(t("float32", &[2, 32, 112, 112]))
            .weight(t("float32", &[32, 1, 3, 3]))
            .int("group", 32)
            .ints("pads", &[1, 1, 1, 1])
            .run();
        assert_eq!(r.shape(0), "[2, 32, 112, 112]");
        assert_eq!(r.macs(), 2 * 32 * 112 * 112 * 9);
        assert_eq!(r.flops_add(), 0);
    }

    #[test]
    fn symbolic_conv_output() {
        let r = Case::new("Conv")
            .input_sym("float32", &["batch", "3", "height", "width"])
            .weight(t("float32", &[8, 3, 3, 3]))
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .run();
        // floor((h + 2 - 3)/2) + 1 = ceil(h/2)
        assert_eq!(r.shape(0), "[batch, 8, ceil(height/2), ceil(width/2)]");
        assert_eq!(r.macs_expr(), "216*batch*ceil(height/2)*ceil(width/2)");
    }

    #[test]
    fn auto_pad_and_dilations() {
        let r = Case::new("Conv")
            .input(t("float32", &[1, 4, 15, 15]))
            .weight(t("float32", &[4, 4, 3, 3]))
            .str("auto_pad", "SAME_UPPER")
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 4, 8, 8]");
        let r = Case::new("Conv")
            .input(t("float32", &[1, 4, 15, 15]))
            .weight(t("float32", &[4, 4, 3, 3]))
            .ints("dilations", &[2, 2])
            .run();
        // extent 5: 15 - 5 + 1 = 11
        assert_eq!(r.shape(0), "[1, 4, 11, 11]");
        let r = Case::new("Conv")
            .input(t("float32", &[1, 4, 15, 15]))
            .weight(t("float32", &[4, 4, 3, 3]))
            .str("auto_pad", "VALID")
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 4, 7, 7]");
    }

    #[test]
    fn inconsistent_channels_are_an_error() {
        let err = Case::new("Conv")
            .input(t("float32", &[1, 4, 8, 8]))
            .weight(t("float32", &[4, 3, 3, 3]))
            .run_err();
        assert!(
            err.contains("4 channels") && err.contains("expects 3"),
            "{err}"
        );
    }
    #[test]
    fn conv_transpose_shapes_and_macs_by_hand() {
        // 3x3 input, 3x3 kernel, stride 1: 1·(3 − 1) + 0 + 3 − 0 = 5.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[1, 1, 3, 3]))
            .weight(t("float32", &[1, 2, 3, 3]))
            .weight(t("float32", &[2]))
            .run();
        assert_eq!(r.shape(0), "[1, 2, 5, 5]");
        // Every one of the 9 inputs meets 2 output channels × 9 taps.
        assert_eq!(r.macs(), 9 * 2 * 9);
        assert_eq!(r.flops_add(), 2 * 5 * 5);
        assert_eq!(r.params(), 18 + 2);
        // strides 3, 2 and output_padding 1: 3·2 + 1 + 3 = 10, 2·2 + 1 + 3 = 8.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[1, 1, 3, 3]))
            .weight(t("float32", &[1, 2, 3, 3]))
            .ints("strides", &[3, 2])
            .ints("output_padding", &[1, 1])
            .run();
        assert_eq!(r.shape(0), "[1, 2, 10, 8]");
        // pads 1, 2 at both ends: 3·2 + 3 − 2 = 7, 2·2 + 3 − 4 = 3.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[1, 1, 3, 3]))
            .weight(t("float32", &[1, 2, 3, 3]))
            .ints("strides", &[3, 2])
            .ints("pads", &[1, 2, 1, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 2, 7, 3]");
        // output_shape wins over everything else.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[1, 1, 3, 3]))
            .weight(t("float32", &[1, 2, 3, 3]))
            .ints("strides", &[3, 2])
            .ints("output_shape", &[10, 8])
            .run();
        assert_eq!(r.shape(0), "[1, 2, 10, 8]");
        // dilation 2 on a 2x2 kernel: extent 3, 3 − 1 + 3 = 5.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[1, 1, 3, 3]))
            .weight(t("float32", &[1, 1, 2, 2]))
            .ints("dilations", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 1, 5, 5]");
    }

    #[test]
    fn conv_transpose_groups_same_padding_and_symbols() {
        // group 2: W [C=4, M/group=3, 2, 2] gives M = 6 channels.
        let r = Case::new("ConvTranspose")
            .input(t("float32", &[2, 4, 5, 5]))
            .weight(t("float32", &[4, 3, 2, 2]))
            .int("group", 2)
            .ints("strides", &[2, 2])
            .str("auto_pad", "SAME_UPPER")
            .run();
        assert_eq!(r.shape(0), "[2, 6, 10, 10]");
        assert_eq!(r.macs(), 2 * 4 * 25 * 3 * 4);
        let r = Case::new("ConvTranspose")
            .input_sym("float32", &["n", "8", "h", "w"])
            .weight(t("float32", &[8, 4, 4, 4]))
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .run();
        // 2·(h − 1) + 4 − 2 = 2h.
        assert_eq!(r.shape(0), "[n, 4, 2*h, 2*w]");
        assert_eq!(r.macs_expr(), "512*h*n*w");
        let err = Case::new("ConvTranspose")
            .input(t("float32", &[1, 3, 4, 4]))
            .weight(t("float32", &[2, 2, 3, 3]))
            .run_err();
        assert!(err.contains("3 channels"), "{err}");
    }

    #[test]
    fn conv_integer_and_qlinear_conv_by_hand() {
        let r = Case::new("ConvInteger")
            .input(t("uint8", &[1, 1, 3, 3]))
            .weight(t("uint8", &[2, 1, 2, 2]))
            .input(t("uint8", &[]))
            .input(t("uint8", &[2]))
            .ints("pads", &[1, 1, 1, 1])
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, 2, 4, 4]");
        assert_eq!(r.dtype(0), flopscope_ir::DType::Int32);
        assert_eq!(r.macs(), 2 * 16 * 4);
        // zero points: 9 input elements, 8 weight elements.
        assert_eq!(r.flops_add(), 9 + 8);

        let r = Case::new("QLinearConv")
            .input(t("uint8", &[1, 3, 7, 7]))
            .input(t("float32", &[]))
            .input(t("uint8", &[]))
            .weight(t("int8", &[4, 3, 3, 3]))
            .input(t("float32", &[4]))
            .input(t("int8", &[4]))
            .input(t("float32", &[]))
            .input(t("int8", &[]))
            .weight(t("int32", &[4]))
            .ints("pads", &[1, 1, 1, 1])
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, 4, 7, 7]");
        assert_eq!(r.dtype(0), flopscope_ir::DType::Int8);
        let y = 4 * 49;
        assert_eq!(r.macs(), y * 27);
        assert_eq!(r.flops_add(), 3 * 49 + 4 * 27 + y + y);
        assert_eq!((r.flops_mul(), r.flops_special(), r.flops_cmp()), (y, y, y));
        assert_eq!(r.params(), 4 * 27 + 4);
    }

    #[test]
    fn deform_conv_by_hand() {
        let r = Case::new("DeformConv")
            .input(t("float32", &[1, 2, 3, 3]))
            .weight(t("float32", &[4, 2, 2, 2]))
            .input(t("float32", &[1, 8, 2, 2]))
            .weight(t("float32", &[4]))
            .input(t("float32", &[1, 4, 2, 2]))
            .ints("kernel_shape", &[2, 2])
            .opset(19)
            .run();
        assert_eq!(r.shape(0), "[1, 4, 2, 2]");
        let y = 4 * 4;
        assert_eq!(r.macs(), y * 2 * 4);
        // samples: N·C·∏out·∏k = 1·2·4·4 = 32; 4 corners each, plus the mask.
        let s = 32;
        assert_eq!(r.flops_mul(), 4 * s + s);
        assert_eq!(r.flops_add(), 3 * s + 8 * 4 + y);
    }

    #[test]
    fn causal_conv_with_state_by_hand() {
        let r = Case::new("CausalConvWithState")
            .input(t("float32", &[2, 4, 8]))
            .weight(t("float32", &[4, 1, 4]))
            .weight(t("float32", &[4]))
            .input(t("float32", &[2, 4, 3]))
            .str("activation", "silu")
            .outputs(2)
            .opset(27)
            .run();
        assert_eq!(r.shape(0), "[2, 4, 8]");
        assert_eq!(r.shape(1), "[2, 4, 3]");
        let y = 2 * 4 * 8;
        assert_eq!(r.macs(), y * 4);
        assert_eq!(r.flops_add(), y + y);
        assert_eq!((r.flops_special(), r.flops_div(), r.flops_mul()), (y, y, y));
        let r = Case::new("CausalConvWithState")
            .input(t("float32", &[1, 1, 6]))
            .weight(t("float32", &[1, 1, 1]))
            .outputs(2)
            .opset(27)
            .run();
        assert_eq!(r.shape(1), "[1, 1, 0]");
        assert_eq!((r.macs(), r.flops_add()), (6, 0));
    }
}
