//! Recurrent nets: `RNN`, `GRU`, `LSTM`.
//!
//! Shapes (layout 0; layout 1, from opset 14, swaps the batch and sequence axes of X and Y and
//! puts the batch first in the states): X [seq, batch, input], W [dirs, gates·hidden, input],
//! R [dirs, gates·hidden, hidden], B [dirs, 2·gates·hidden], sequence_lens [batch], initial
//! states [dirs, batch, hidden], LSTM's P [dirs, 3·hidden] → Y [seq, dirs, batch, hidden],
//! Y_h (and LSTM's Y_c) [dirs, batch, hidden].
//!
//! Cost, with `T = seq·batch·dirs·hidden` gate elements per gate:
//! - `macs = gates·hidden·(input + hidden)·seq·batch·dirs` (`Xt·Wᵀ` and `Ht−1·Rᵀ` of every gate);
//! - `add = gates·T` (summing the two products of each gate), `+ 2·gates·T` with B (`Wb + Rb`);
//! - the activations, per element: Tanh 1 `special`; Sigmoid `special` (exp), `add`, `div`;
//!   Relu 1 `cmp`; Affine `mul` + `add`; LeakyRelu `cmp` + `mul`; ThresholdedRelu `cmp`;
//!   ScaledTanh 2 `mul` + `special`; HardSigmoid `mul` + `add` + 2 `cmp`; Elu `cmp`,
//!   `special`, `add`, `mul`; Softsign `cmp` (abs), `add`, `div`; Softplus 2 `special`, `add`.
//!   RNN applies f once per element; GRU f twice (z, r) and g once; LSTM f three times
//!   (i, f, o), g and h once;
//! - the state update: GRU `r ⊙ H` and `(1 − z) ⊙ h̃ + z ⊙ H` (`mul = 3·T`, `add = 2·T`);
//!   LSTM `C = f ⊙ C + i ⊙ c̃`, `H = o ⊙ h(C)` (`mul = 3·T`, `add = T`), peepholes with P
//!   (`mul = 3·T`, `add = 3·T`);
//! - `clip`: one `cmp` per activation input (`T` per activation application).
//!
//! `input_forget` (LSTM) and `sequence_lens` shorter than the padded length are not
//! discounted: the count is the padded, uncoupled computation.

use flopscope_ir::{Dim, TensorType};

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// What differs between the three recurrent ops.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Gates per direction (rows of W are `gates·hidden`).
    gates: i64,
    /// How many times each activation of the `activations` list is applied per element.
    uses: &'static [i64],
    /// The default activations, per direction.
    defaults: &'static [&'static str],
    /// Number of state outputs besides Y (Y_h; LSTM also Y_c).
    states: usize,
}

const RNN: Cell = Cell {
    gates: 1,
    uses: &[1],
    defaults: &["Tanh"],
    states: 1,
};

const GRU: Cell = Cell {
    gates: 3,
    uses: &[2, 1],
    defaults: &["Sigmoid", "Tanh"],
    states: 1,
};

const LSTM: Cell = Cell {
    gates: 4,
    uses: &[3, 1, 1],
    defaults: &["Sigmoid", "Tanh", "Tanh"],
    states: 2,
};

fn cell_of(op_type: &str) -> Result<Cell, OpError> {
    match op_type {
        "RNN" => Ok(RNN),
        "GRU" => Ok(GRU),
        "LSTM" => Ok(LSTM),
        other => invalid!("`{other}` is not a recurrent op"),
    }
}

/// The dims every recurrent op is built from.
#[derive(Debug, Clone)]
struct Dims {
    seq: Dim,
    batch: Dim,
    input: Dim,
    hidden: Dim,
    dirs: i64,
    batch_first: bool,
}

fn directions(direction: &str) -> Result<i64, OpError> {
    match direction {
        "forward" | "reverse" => Ok(1),
        "bidirectional" => Ok(2),
        other => invalid!("direction `{other}` is not one of forward, reverse, bidirectional"),
    }
}

fn read_dims<'a>(
    cx_tensor: impl Fn(usize) -> Result<&'a TensorType, OpError>,
    layout: i64,
    direction: &str,
    hidden_size: Option<i64>,
    gates: i64,
) -> Result<Dims, OpError> {
    let x = cx_tensor(0)?;
    let w = cx_tensor(1)?;
    let r = cx_tensor(2)?;
    if x.rank() != 3 {
        return invalid!("X has shape {}, expected rank 3", x);
    }
    if w.rank() != 3 || r.rank() != 3 {
        return invalid!("W {} and R {} must have rank 3", w, r);
    }
    let dirs = directions(direction)?;
    if let Some(d) = w.shape[0].as_i64()
        && d != dirs
    {
        return invalid!("W {} has {d} directions but direction is `{direction}`", w);
    }
    let hidden = match hidden_size {
        Some(h) if h < 1 => return invalid!("hidden_size {h} is not positive"),
        Some(h) => Dim::from_i64(h),
        None => r.shape[2].clone(),
    };
    if let (Some(rows), Some(h)) = (w.shape[1].as_i64(), hidden.as_i64())
        && rows != gates * h
    {
        return invalid!(
            "W {} has {rows} rows, expected {gates}·hidden_size = {}",
            w,
            gates * h
        );
    }
    let batch_first = match layout {
        0 => false,
        1 => true,
        other => return invalid!("layout {other} is not 0 or 1"),
    };
    let (seq, batch) = if batch_first {
        (x.shape[1].clone(), x.shape[0].clone())
    } else {
        (x.shape[0].clone(), x.shape[1].clone())
    };
    Ok(Dims {
        seq,
        batch,
        input: x.shape[2].clone(),
        hidden,
        dirs,
        batch_first,
    })
}

fn infer_recurrent(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let cell = cell_of(&cx.node().op_type)?;
    let d = read_dims(
        |i| cx.tensor(i),
        cx.attr_or("layout", 0i64)?,
        cx.attr_or::<&str>("direction", "forward")?,
        cx.attr::<i64>("hidden_size")?,
        cell.gates,
    )?;
    let dtype = cx.tensor(0)?.dtype;
    let dirs = Dim::from_i64(d.dirs);
    let (y, state) = if d.batch_first {
        (
            vec![
                d.batch.clone(),
                d.seq.clone(),
                dirs.clone(),
                d.hidden.clone(),
            ],
            vec![d.batch.clone(), dirs, d.hidden.clone()],
        )
    } else {
        (
            vec![
                d.seq.clone(),
                dirs.clone(),
                d.batch.clone(),
                d.hidden.clone(),
            ],
            vec![dirs, d.batch.clone(), d.hidden.clone()],
        )
    };
    cx.set(0, TensorType::new(dtype, y));
    for i in 1..=cell.states {
        cx.set(i, TensorType::new(dtype, state.clone()));
    }
    Ok(())
}

/// The cost of one activation per element, by name (case-insensitive).
fn activation_cost(name: &str, n: &Dim) -> Result<Cost, OpError> {
    let z = Cost::zero();
    let n = n.clone();
    Ok(match name.to_ascii_lowercase().as_str() {
        "tanh" => z.with_special(n),
        "sigmoid" => z.with_special(n.clone()).with_add(n.clone()).with_div(n),
        "relu" | "thresholdedrelu" => z.with_cmp(n),
        "affine" => z.with_mul(n.clone()).with_add(n),
        "leakyrelu" => z.with_cmp(n.clone()).with_mul(n),
        "scaledtanh" => z.with_mul(&n * 2).with_special(n),
        "hardsigmoid" => z.with_mul(n.clone()).with_add(n.clone()).with_cmp(n * 2),
        "elu" => z
            .with_cmp(n.clone())
            .with_special(n.clone())
            .with_add(n.clone())
            .with_mul(n),
        "softsign" => z.with_cmp(n.clone()).with_add(n.clone()).with_div(n),
        "softplus" => z.with_special(&n * 2).with_add(n),
        _ => return invalid!("activation `{name}` is not one the recurrent ops define"),
    })
}

fn cost_recurrent(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let cell = cell_of(&cx.node().op_type)?;
    let direction = cx.attr_or::<&str>("direction", "forward")?;
    let d = read_dims(
        |i| cx.tensor(i),
        cx.attr_or("layout", 0i64)?,
        direction,
        cx.attr::<i64>("hidden_size")?,
        cell.gates,
    )?;
    // Gate elements per direction and for all directions.
    let per_dir = &d.seq * &d.batch * &d.hidden;
    let t = &per_dir * d.dirs;
    let macs = &t * cell.gates * (&d.input + &d.hidden);
    let mut cost = Cost::macs(macs).with_add(&t * cell.gates);
    if cx.has_input(3) {
        cost = cost.with_add(&t * (2 * cell.gates));
    }

    let per = cell.uses.len();
    let listed = cx.attr::<&[String]>("activations")?;
    for dir in 0..d.dirs as usize {
        for (j, &uses) in cell.uses.iter().enumerate() {
            let name = match listed {
                Some(list) => list
                    .get(dir * per + j)
                    .or_else(|| list.get(j))
                    .map(String::as_str)
                    .ok_or_else(|| {
                        OpError::Invalid(format!(
                            "activations {list:?} list fewer than {per} functions per direction"
                        ))
                    })?,
                None => cell.defaults[j],
            };
            cost += &activation_cost(name, &(&per_dir * uses))?;
        }
    }

    let applications: i64 = cell.uses.iter().sum();
    match cell.gates {
        3 => cost = cost.with_mul(&t * 3).with_add(&t * 2),
        4 => {
            cost = cost.with_mul(&t * 3).with_add(t.clone());
            if cx.has_input(7) {
                cost = cost.with_mul(&t * 3).with_add(&t * 3);
            }
        }
        _ => {}
    }
    if cx.attr::<f32>("clip")?.is_some() {
        cost = cost.with_cmp(&t * applications);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RNN",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Weight, Role::Bias, Role::Config, Role::Data],
        infer: infer_recurrent,
        cost: cost_recurrent,
        formula: "T = seq·batch·dirs·hidden: macs = T·(input + hidden); add = T (+ 2·T with B); \
                  f = Tanh: special = T; cmp = T with clip",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GRU",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Weight, Role::Bias, Role::Config, Role::Data],
        infer: infer_recurrent,
        cost: cost_recurrent,
        formula: "T = seq·batch·dirs·hidden: macs = 3·T·(input + hidden); add = 3·T + 2·T \
                  (+ 6·T with B), mul = 3·T; 2 f (Sigmoid: special, add, div) + g (Tanh: \
                  special) per element; cmp = 3·T with clip",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LSTM",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Weight,
            Role::Weight,
            Role::Bias,
            Role::Config,
            Role::Data,
            Role::Data,
            Role::Weight,
        ],
        infer: infer_recurrent,
        cost: cost_recurrent,
        formula: "T = seq·batch·dirs·hidden: macs = 4·T·(input + hidden); add = 4·T + T \
                  (+ 8·T with B, + 3·T with P), mul = 3·T (+ 3·T with P); 3 f (Sigmoid: \
                  special, add, div) + g + h (Tanh: special) per element; cmp = 5·T with clip",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn lstm_macs_and_gate_math_by_hand() {
        // batch 2, seq 16, hidden 128, input 64.
        let r = Case::new("LSTM")
            .input(t("float32", &[16, 2, 64]))
            .weight(t("float32", &[1, 512, 64]))
            .weight(t("float32", &[1, 512, 128]))
            .weight(t("float32", &[1, 1024]))
            .int("hidden_size", 128)
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[16, 1, 2, 128]");
        assert_eq!(r.shape(1), "[1, 2, 128]");
        assert_eq!(r.shape(2), "[1, 2, 128]");
        assert_eq!(r.macs(), 4 * 128 * (64 + 128) * 16 * 2);
        let t = 16 * 2 * 128;
        // gate sums 4T, biases 8T, 3 sigmoids T each, cell update T.
        assert_eq!(r.flops_add(), 4 * t + 8 * t + 3 * t + t);
        assert_eq!(r.flops_mul(), 3 * t);
        assert_eq!(r.flops_div(), 3 * t);
        // 3 sigmoid exps + 2 tanh.
        assert_eq!(r.flops_special(), 5 * t);
        assert_eq!(r.params(), 512 * 64 + 512 * 128 + 1024);
    }

    #[test]
    fn lstm_peepholes_clip_layout_and_bidirectional() {
        let r = Case::new("LSTM")
            .input(t("float32", &[2, 5, 3]))
            .weight(t("float32", &[2, 16, 3]))
            .weight(t("float32", &[2, 16, 4]))
            .absent()
            .absent()
            .input(t("float32", &[2, 2, 4]))
            .input(t("float32", &[2, 2, 4]))
            .weight(t("float32", &[2, 12]))
            .str("direction", "bidirectional")
            .int("layout", 1)
            .int("hidden_size", 4)
            .float("clip", 1.0)
            .outputs(3)
            .run();
        // batch 2, seq 5
        assert_eq!(r.shape(0), "[2, 5, 2, 4]");
        assert_eq!(r.shape(1), "[2, 2, 4]");
        let t = 5 * 2 * 2 * 4;
        assert_eq!(r.macs(), 4 * t * (3 + 4));
        assert_eq!(r.flops_mul(), 3 * t + 3 * t);
        assert_eq!(r.flops_add(), 4 * t + 3 * t + t + 3 * t);
        assert_eq!(r.flops_cmp(), 5 * t);
    }

    #[test]
    fn gru_by_hand() {
        let r = Case::new("GRU")
            .input(t("float32", &[3, 1, 2]))
            .weight(t("float32", &[1, 15, 2]))
            .weight(t("float32", &[1, 15, 5]))
            .int("hidden_size", 5)
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[3, 1, 1, 5]");
        assert_eq!(r.shape(1), "[1, 1, 5]");
        let t = 3 * 5;
        assert_eq!(r.macs(), 3 * 5 * (2 + 5) * 3);
        // gate sums 3T, two sigmoids 2T, state update 2T.
        assert_eq!(r.flops_add(), 3 * t + 2 * t + 2 * t);
        assert_eq!(r.flops_mul(), 3 * t);
        assert_eq!(r.flops_special(), 3 * t);
        assert_eq!(r.flops_div(), 2 * t);
    }

    #[test]
    fn rnn_activations_hidden_size_from_r_and_symbols() {
        let r = Case::new("RNN")
            .input_sym("float32", &["seq", "batch", "8"])
            .weight(t("float32", &[2, 4, 8]))
            .weight(t("float32", &[2, 4, 4]))
            .weight(t("float32", &[2, 8]))
            .str("direction", "bidirectional")
            .attr(
                "activations",
                flopscope_ir::Attr::Strings(vec!["Relu".into(), "Tanh".into()]),
            )
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[seq, 2, batch, 4]");
        assert_eq!(r.shape(1), "[2, batch, 4]");
        assert_eq!(r.macs_expr(), "96*batch*seq");
        let r = Case::new("RNN")
            .input(t("float32", &[3, 2, 8]))
            .weight(t("float32", &[2, 4, 8]))
            .weight(t("float32", &[2, 4, 4]))
            .str("direction", "bidirectional")
            .attr(
                "activations",
                flopscope_ir::Attr::Strings(vec!["Relu".into(), "Tanh".into()]),
            )
            .run();
        let per_dir = 3 * 2 * 4;
        assert_eq!(r.flops_cmp(), per_dir);
        assert_eq!(r.flops_special(), per_dir);
        assert_eq!(r.flops_add(), 2 * per_dir);
    }

    #[test]
    fn inconsistent_recurrent_weights_are_errors() {
        let err = Case::new("GRU")
            .input(t("float32", &[3, 1, 2]))
            .weight(t("float32", &[1, 12, 2]))
            .weight(t("float32", &[1, 12, 5]))
            .int("hidden_size", 5)
            .run_err();
        assert!(err.contains("12 rows"), "{err}");
        let err = Case::new("RNN")
            .input(t("float32", &[3, 1, 2]))
            .weight(t("float32", &[1, 5, 2]))
            .weight(t("float32", &[1, 5, 5]))
            .str("direction", "bidirectional")
            .run_err();
        assert!(err.contains("1 directions"), "{err}");
    }
}
