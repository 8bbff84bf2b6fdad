//! Convolutions.

use flopscope_ir::{Dim, TensorType};

use super::window::Window;
use crate::{Cost, CostCtx, InferCtx, OpDef, OpError, Opsets, Role, invalid, product};

/// `Conv`: X [N, C, D1..Dn], W [M, C/group, k1..kn], optional B [M] → Y [N, M, O1..On].
fn infer_conv(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
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
    let kernel: Vec<Dim> = match cx.attr::<&[i64]>("kernel_shape")? {
        Some(k) => k.iter().map(|&v| Dim::from_i64(v)).collect(),
        None => w.shape[2..].to_vec(),
    };
    if kernel.len() != x.rank() - 2 {
        return invalid!(
            "kernel_shape has {} axes for {} spatial axes",
            kernel.len(),
            x.rank() - 2
        );
    }
    let window = Window::read(cx, kernel)?;
    let mut shape = vec![x.shape[0].clone(), w.shape[0].clone()];
    shape.extend(window.output(&x.shape[2..])?);
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Every output element is a dot product over one group's input channels and the kernel
/// window: `macs = numel(Y) · (C/group) · ∏k`; the bias adds one `add` per output element.
fn cost_conv(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
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
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_conv,
        cost: cost_conv,
        formula: "macs = numel(Y)·(C/group)·∏kernel; add = numel(Y) with bias",
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
}
