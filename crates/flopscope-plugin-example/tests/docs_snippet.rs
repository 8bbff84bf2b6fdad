//! The example of `docs/plugins.md`, section 1, compiled and registered as written there (the
//! record lives only in this test binary).

use flopscope_counters::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, inventory,
};
use flopscope_ir::TensorType;

/// Output types from input types: here Y has X's shape.
fn infer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    cx.set(0, TensorType::new(x.dtype, x.shape.clone()));
    Ok(())
}

/// The cost from the (now known) input and output types.
fn cost(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let y = cx.req_output(0)?;
    let n = y.numel();
    Ok(Cost::zero().with_mul(n.clone()).with_special(n))
}

inventory::submit! {
    OpDef {
        domain: "com.mycompany",       // as written in the model's nodes and opset imports
        op_type: "Swish",
        class: OpClass::Activation,    // what `compare` and the conventions total it under
        opsets: Opsets::since(1),      // or Opsets::range(1, 12) when versions differ
        roles: &[Role::Data],          // what each input is: Data, Weight, Bias, Buffer, ...
        infer,
        cost,
        formula: "mul = numel(Y); special = numel(Y)",
    }
}

#[test]
fn the_documented_op_registers() {
    let def = flopscope_counters::registry()
        .lookup("com.mycompany", "Swish", 13)
        .expect("the snippet's record");
    assert_eq!(def.formula, "mul = numel(Y); special = numel(Y)");
    assert_eq!(def.role(0), Role::Data);
    assert_eq!(def.class, OpClass::Activation);
    assert!(flopscope_counters::registry().conflicts().is_empty());
}
