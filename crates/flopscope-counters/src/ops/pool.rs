//! Pooling.

use flopscope_ir::{DType, Dim, TensorType};

use super::no_flops;
use super::window::Window;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid, product};

/// MaxPool / AveragePool: Y [N, C, O1..On] from `kernel_shape` and the window attributes;
/// MaxPool's optional second output holds int64 indices of the same shape.
fn infer_pool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() < 3 {
        return invalid!("input X has shape {}, expected [N, C, spatial...]", x);
    }
    let kernel: Vec<Dim> = cx
        .req_attr::<&[i64]>("kernel_shape")?
        .iter()
        .map(|&k| Dim::from_i64(k))
        .collect();
    if kernel.len() != x.rank() - 2 {
        return invalid!(
            "kernel_shape has {} axes for {} spatial axes",
            kernel.len(),
            x.rank() - 2
        );
    }
    let window = Window::read(cx, kernel)?;
    let mut shape = x.shape[..2].to_vec();
    shape.extend(window.output(&x.shape[2..])?);
    let dtype = x.dtype;
    cx.set(1, TensorType::new(DType::Int64, shape.clone()));
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Elements per window.
fn window_size(cx: &CostCtx<'_>) -> Result<i64, OpError> {
    let kernel = cx.req_attr::<&[i64]>("kernel_shape")?;
    kernel
        .iter()
        .try_fold(1i64, |acc, &k| acc.checked_mul(k))
        .ok_or_else(|| OpError::Invalid(format!("kernel_shape {kernel:?} is too large")))
}

/// The max of a window of k elements takes k − 1 comparisons.
fn cost_maxpool(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let y = cx.req_output(0)?.numel();
    Ok(Cost::zero().with_cmp(y * (window_size(cx)? - 1)))
}

/// The mean of a window of k elements takes k − 1 adds and one division.
pub(super) fn cost_averagepool(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let y = cx.req_output(0)?.numel();
    Ok(Cost::zero()
        .with_add(&y * (window_size(cx)? - 1))
        .with_div(y))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MaxPool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_pool,
        cost: cost_maxpool,
        formula: "cmp = numel(Y)·(∏kernel − 1)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "AveragePool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_pool,
        cost: cost_averagepool,
        formula: "add = numel(Y)·(∏kernel − 1), div = numel(Y)",
    }
}

/// Global pools: Y [N, C, 1, ..., 1].
fn infer_global_pool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() < 3 {
        return invalid!("input X has shape {}, expected [N, C, spatial...]", x);
    }
    let mut shape = x.shape[..2].to_vec();
    shape.resize(x.rank(), Dim::one());
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// The mean of each of `outputs` windows of `window` elements: `window − 1` adds and one
/// division per output.
pub(super) fn mean_cost(outputs: &Dim, window: &Dim) -> Cost {
    Cost::zero()
        .with_add(outputs * (window - 1))
        .with_div(outputs.clone())
}

/// (outputs, elements per output) of a global pool.
fn global_window(cx: &CostCtx<'_>) -> Result<(Dim, Dim), OpError> {
    let x = cx.tensor(0)?;
    Ok((product(&x.shape[..2]), product(&x.shape[2..])))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GlobalAveragePool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_global_pool,
        cost: |cx| {
            let (outputs, window) = global_window(cx)?;
            Ok(mean_cost(&outputs, &window))
        },
        formula: "add = N·C·(∏spatial − 1), div = N·C",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GlobalMaxPool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_global_pool,
        cost: |cx| {
            let (outputs, window) = global_window(cx)?;
            Ok(Cost::zero().with_cmp(outputs * (window - 1)))
        },
        formula: "cmp = N·C·(∏spatial − 1)",
    }
}

/// `(Σ |x|^p)^(1/p)` over a window of k elements: `k` abs (`cmp`), `k` powers and one root
/// (`special`), `k − 1` adds.
fn lp_cost(outputs: Dim, window: Dim) -> Cost {
    Cost::zero()
        .with_cmp(&outputs * &window)
        .with_special(&outputs * (&window + 1))
        .with_add(outputs * (window - 1))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LpPool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_pool,
        cost: |cx| {
            let y = cx.req_output(0)?.numel();
            Ok(lp_cost(y, Dim::from_i64(window_size(cx)?)))
        },
        formula: "cmp = numel(Y)·∏kernel (abs), special = numel(Y)·(∏kernel + 1) (pow, root), \
                  add = numel(Y)·(∏kernel − 1)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GlobalLpPool",
        class: OpClass::Pooling,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_global_pool,
        cost: |cx| {
            let (outputs, window) = global_window(cx)?;
            Ok(lp_cost(outputs, window))
        },
        formula: "cmp = N·C·∏spatial (abs), special = N·C·(∏spatial + 1) (pow, root), \
                  add = N·C·(∏spatial − 1)",
    }
}

/// `MaxUnpool` (X, I, output_shape): the `output_shape` input when given, else
/// `(Di − 1)·stride + k − pad_begin − pad_end` per spatial axis.
fn infer_max_unpool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() < 3 {
        return invalid!("input X has shape {}, expected [N, C, spatial...]", x);
    }
    let dtype = x.dtype;
    if cx.has_input(2) {
        let shape = cx.req_ints(2, "output_shape")?.to_vec();
        if shape.len() != x.rank() {
            return invalid!(
                "output_shape has {} values but X {} has rank {}",
                shape.len(),
                x,
                x.rank()
            );
        }
        cx.set(0, TensorType::new(dtype, shape));
        return Ok(());
    }
    let n = x.rank() - 2;
    let kernel = cx.req_attr::<&[i64]>("kernel_shape")?;
    if kernel.len() != n {
        return invalid!(
            "kernel_shape has {} axes for {n} spatial axes",
            kernel.len()
        );
    }
    let strides = match cx.attr::<&[i64]>("strides")? {
        None => vec![1; n],
        Some(s) if s.len() == n => s.to_vec(),
        Some(s) => return invalid!("strides {s:?} do not fit {n} spatial axes"),
    };
    let pads = match cx.attr::<&[i64]>("pads")? {
        None => vec![0; 2 * n],
        Some(p) if p.len() == 2 * n => p.to_vec(),
        Some(p) => return invalid!("pads {p:?} do not fit {n} spatial axes"),
    };
    let mut shape = x.shape[..2].to_vec();
    for i in 0..n {
        shape.push((&x.shape[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]);
    }
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MaxUnpool",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_max_unpool,
        cost: no_flops,
        formula: "0 (scatter: data movement)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn maxpool_by_hand() {
        // AlexNet-style 3x3 stride 2 on 55x55: floor((55 - 3)/2) + 1 = 27.
        let r = Case::new("MaxPool")
            .input(t("float32", &[1, 96, 55, 55]))
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 96, 27, 27]");
        assert_eq!(r.flops_cmp(), 96 * 27 * 27 * 8);
    }

    #[test]
    fn ceil_mode_drops_a_window_starting_in_the_padding() {
        // SqueezeNet 1.0: 3x3 stride 2 ceil_mode on 109: ceil((109-3)/2)+1 = 54.
        let r = Case::new("MaxPool")
            .input(t("float32", &[1, 96, 109, 109]))
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .int("ceil_mode", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 96, 54, 54]");
        // 4 wide, kernel 2, stride 2, pad 1 both sides: ceil((4+2-2)/2)+1 = 3 windows start
        // at -1, 1, 3: all inside the input or the begin padding, so 3 stay.
        let r = Case::new("MaxPool")
            .input(t("float32", &[1, 1, 4, 4]))
            .ints("kernel_shape", &[2, 2])
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .int("ceil_mode", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 1, 3, 3]");
        // 5 wide, kernel 2, stride 2, pad 0/1: ceil((5+1-2)/2)+1 = 3, starts 0, 2, 4: kept.
        // 4 wide, kernel 3, stride 2, pads 0/2: ceil((4+2-3)/2)+1 = 3, third start 4 = in+pb:
        // it would lie wholly in the end padding, so 2 remain.
        let r = Case::new("MaxPool")
            .input(t("float32", &[1, 1, 4, 4]))
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .ints("pads", &[0, 0, 2, 2])
            .int("ceil_mode", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 1, 2, 2]");
    }

    #[test]
    fn average_and_global_pools() {
        let r = Case::new("AveragePool")
            .input(t("float32", &[1, 8, 7, 7]))
            .ints("kernel_shape", &[7, 7])
            .run();
        assert_eq!(r.shape(0), "[1, 8, 1, 1]");
        assert_eq!((r.flops_add(), r.flops_div()), (8 * 48, 8));

        let r = Case::new("GlobalAveragePool")
            .input(t("float32", &[2, 1280, 7, 7]))
            .run();
        assert_eq!(r.shape(0), "[2, 1280, 1, 1]");
        assert_eq!(r.flops_add(), 2 * 1280 * 48);
        assert_eq!(r.flops_div(), 2 * 1280);

        let r = Case::new("GlobalMaxPool")
            .input(t("float32", &[1, 4, 3, 3]))
            .run();
        assert_eq!(r.flops_cmp(), 4 * 8);
    }
    #[test]
    fn lp_pools_by_hand() {
        let r = Case::new("LpPool")
            .input(t("float32", &[1, 3, 32, 32]))
            .ints("kernel_shape", &[5, 5])
            .ints("strides", &[3, 3])
            .int("p", 2)
            .run();
        // floor((32 − 5)/3) + 1 = 10
        assert_eq!(r.shape(0), "[1, 3, 10, 10]");
        let y = 3 * 100;
        assert_eq!(r.flops_cmp(), y * 25);
        assert_eq!(r.flops_special(), y * 26);
        assert_eq!(r.flops_add(), y * 24);
        let r = Case::new("LpPool")
            .input(t("float32", &[1, 3, 32, 32]))
            .ints("kernel_shape", &[2, 2])
            .str("auto_pad", "SAME_LOWER")
            .run();
        assert_eq!(r.shape(0), "[1, 3, 32, 32]");

        let r = Case::new("GlobalLpPool")
            .input(t("float32", &[2, 8, 4, 4]))
            .run();
        assert_eq!(r.shape(0), "[2, 8, 1, 1]");
        assert_eq!(r.flops_cmp(), 16 * 16);
        assert_eq!(r.flops_special(), 16 * 17);
        assert_eq!(r.flops_add(), 16 * 15);
    }

    #[test]
    fn max_unpool_shapes() {
        let r = Case::new("MaxUnpool")
            .input(t("float32", &[1, 1, 2, 2]))
            .input(t("int64", &[1, 1, 2, 2]))
            .ints("kernel_shape", &[2, 2])
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 1, 4, 4]");
        assert_eq!(r.flops_add() + r.flops_cmp(), 0);
        let r = Case::new("MaxUnpool")
            .input(t("float32", &[1, 1, 2, 2]))
            .input(t("int64", &[1, 1, 2, 2]))
            .const_i64s(&[4], &[1, 1, 5, 5])
            .ints("kernel_shape", &[2, 2])
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 1, 5, 5]");
        let r = Case::new("MaxUnpool")
            .input_sym("float32", &["n", "c", "h", "w"])
            .input_sym("int64", &["n", "c", "h", "w"])
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .run();
        // 2·(h − 1) + 3 − 2 = 2h − 1
        assert_eq!(r.shape(0), "[n, c, 2*h - 1, 2*w - 1]");
    }
}
