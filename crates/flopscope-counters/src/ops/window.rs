//! Sliding windows: the output size of convolutions and pools (ONNX `Conv`, `MaxPool`,
//! `AveragePool` attribute semantics: `kernel_shape`, `strides`, `dilations`, `pads`,
//! `auto_pad`, `ceil_mode`).

use flopscope_ir::Dim;

use crate::{InferCtx, OpError, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// The window attributes of a node, for `spatial` spatial axes.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    kernel: Vec<Dim>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    /// `[begin_0, begin_1, ..., end_0, end_1, ...]`.
    pads: Vec<i64>,
    auto_pad: AutoPad,
    ceil_mode: bool,
}

impl Window {
    /// Reads the window attributes; `kernel` comes from `kernel_shape` or, for convolutions,
    /// from the weight's spatial dims.
    pub(crate) fn read(cx: &InferCtx<'_>, kernel: Vec<Dim>) -> Result<Window, OpError> {
        let n = kernel.len();
        if let Some(k) = kernel.iter().find(|k| k.as_i64().is_some_and(|k| k < 1)) {
            return invalid!("kernel size {k} is not positive");
        }
        let list = |name: &str, default: i64| -> Result<Vec<i64>, OpError> {
            match cx.attr::<&[i64]>(name)? {
                None => Ok(vec![default; n]),
                Some(v) if v.len() == n => Ok(v.to_vec()),
                Some(v) => invalid!(
                    "attribute `{name}` has {} values for {n} spatial axes",
                    v.len()
                ),
            }
        };
        let strides = list("strides", 1)?;
        let dilations = list("dilations", 1)?;
        if let Some(s) = strides.iter().find(|&&s| s < 1) {
            return invalid!("stride {s} is not positive");
        }
        if let Some(d) = dilations.iter().find(|&&d| d < 1) {
            return invalid!("dilation {d} is not positive");
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
        if let Some(p) = pads.iter().find(|&&p| p < 0) {
            return invalid!("pad {p} is negative");
        }
        let auto_pad = match cx.attr_or::<&str>("auto_pad", "NOTSET")? {
            "NOTSET" | "" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            other => {
                return invalid!(
                    "auto_pad `{other}` is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
                );
            }
        };
        let ceil_mode = cx.attr_or("ceil_mode", 0i64)? != 0;
        Ok(Window {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad,
            ceil_mode,
        })
    }

    /// Output spatial dims for input spatial dims `input`.
    ///
    /// With explicit pads the output is `floor((in + pb + pe - d*(k-1) - 1)/s) + 1`, or with
    /// `ceil_mode` the `ceil` of it, less any last window that would start inside the end
    /// padding (the rule ONNX Runtime and PyTorch share): at most `floor((in + pb - 1)/s) + 1`
    /// windows. `VALID` is the same with no pads; `SAME_*` gives `ceil(in/s)`.
    pub(crate) fn output(&self, input: &[Dim]) -> Result<Vec<Dim>, OpError> {
        if input.len() != self.kernel.len() {
            return invalid!(
                "the input has {} spatial axes but the kernel has {}",
                input.len(),
                self.kernel.len()
            );
        }
        let n = input.len();
        let mut out = Vec::with_capacity(n);
        #[allow(clippy::needless_range_loop)] // `i` indexes five parallel lists
        for i in 0..n {
            let s = self.strides[i];
            let div = |x: Dim, ceil: bool| {
                if ceil { x.ceil_div(s) } else { x.floor_div(s) }
                    .map_err(|e| OpError::Invalid(e.to_string()))
            };
            let dim = match self.auto_pad {
                AutoPad::SameUpper | AutoPad::SameLower => div(input[i].clone(), true)?,
                AutoPad::NotSet | AutoPad::Valid => {
                    let (pb, pe) = if self.auto_pad == AutoPad::Valid {
                        (0, 0)
                    } else {
                        (self.pads[i], self.pads[i + n])
                    };
                    let extent = (&self.kernel[i] - 1) * self.dilations[i] + 1;
                    // Pads up to i64::MAX each: added one at a time, an overflow poisons the dim.
                    let span = &input[i] + pb + pe - extent;
                    let windows = div(span, self.ceil_mode)? + 1;
                    if self.ceil_mode {
                        let last_start = div(&input[i] + (pb - 1), false)? + 1;
                        windows.min(&last_start)
                    } else {
                        windows
                    }
                }
            };
            if let Some(v) = dim.as_i64()
                && v < 1
            {
                return invalid!(
                    "spatial axis {i} of size {} gives {v} windows of extent {}",
                    input[i],
                    (&self.kernel[i] - 1) * self.dilations[i] + 1
                );
            }
            out.push(dim);
        }
        Ok(out)
    }
}
