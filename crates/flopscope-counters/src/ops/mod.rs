//! The built-in ops, one module per family. Each module registers its own ops with
//! `inventory::submit!`; nothing here lists them.

mod activation;
mod attention;
mod constant;
mod contrib_ms;
mod contrib_ms_attention;
mod contrib_ms_quant;
mod control_flow;
mod conv;
mod convert;
mod einsum;
mod elementwise;
pub(crate) mod fold;
mod generate;
mod image;
mod index;
mod layout;
mod logic;
mod loss;
mod matmul;
mod ml;
mod norm;
mod pool;
mod quant;
mod reduce;
mod resize;
mod rnn;
mod sequence;
mod shape;
mod signal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod text;
mod training;
mod window;

use crate::{Cost, CostCtx, InferCtx, OpError};

/// Output 0 has the type of input 0 (unary elementwise ops, Identity-like ops).
pub fn same_as_input(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    cx.set(0, x);
    Ok(())
}

/// No arithmetic: data movement and metadata ops.
pub fn no_flops(_: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(Cost::zero())
}
