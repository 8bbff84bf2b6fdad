//! `import flopscope`: a thin PyO3 layer over the Rust crates. Every count is made by the
//! engine (`flopscope-counters`) and every rendering by `flopscope-report`; this module only
//! converts arguments in and results out, and releases the GIL while the engine works.

use std::path::PathBuf;

use flopscope::counters::{ProfileError, ProfileOptions};
use flopscope::ir::Dim;
use flopscope::report::{
    Convention, Report as RustReport, TotalKind, View, ViewOptions, render_html, render_svg,
    render_view_csv, render_view_markdown, render_view_table,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::Value;

create_exception!(
    _flopscope,
    Error,
    PyException,
    "A model flopscope cannot read or profile; `.node` and `.op` name where, when known."
);

/// A count that depends on the model's dims: `str()` is the expression; call it (or
/// `.evaluate`) with the dims' values for the number.
#[pyclass(frozen, module = "flopscope", eq)]
#[derive(Debug, Clone, PartialEq)]
struct Formula {
    dim: Dim,
}

#[pymethods]
impl Formula {
    /// The names of the dims the formula depends on, sorted.
    #[getter]
    fn symbols(&self) -> Vec<String> {
        let mut names: Vec<String> = self.dim.symbols().iter().map(|s| s.to_string()).collect();
        names.sort();
        names
    }

    /// The value with every dim bound: `f.evaluate(batch=32, height=320, width=320)`.
    #[pyo3(signature = (**dims))]
    fn evaluate(&self, dims: Option<&Bound<'_, PyDict>>) -> PyResult<i64> {
        let mut values = std::collections::BTreeMap::new();
        if let Some(dims) = dims {
            for (k, v) in dims.iter() {
                values.insert(k.extract::<String>()?, v.extract::<i64>()?);
            }
        }
        self.dim
            .eval(&|s| values.get(s).copied())
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", self.dim)))
    }

    #[pyo3(signature = (**dims))]
    fn __call__(&self, dims: Option<&Bound<'_, PyDict>>) -> PyResult<i64> {
        self.evaluate(dims)
    }

    fn __str__(&self) -> String {
        self.dim.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Formula('{}')", self.dim)
    }
}

/// A count as Python sees it: an `int` when every dim is bound, else a [`Formula`].
fn count(py: Python<'_>, d: &Dim) -> PyResult<Py<PyAny>> {
    Ok(match d.as_i64() {
        Some(v) => v.into_pyobject(py)?.into_any().unbind(),
        None => Py::new(py, Formula { dim: d.clone() })?.into_any(),
    })
}

/// JSON as Python values (dicts, lists, ints, floats, strings, None).
fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any().unbind(),
            _ => n
                .as_f64()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// What a profile found: totals, nodes, modules, what was not counted, and every rendering
/// the CLI has.
#[pyclass(frozen, module = "flopscope")]
struct Report {
    inner: RustReport,
}

fn view_options(view: &str, units: &str, depth: usize, all: bool) -> PyResult<ViewOptions> {
    let view = match view {
        "layers" => View::Layers,
        "tree" => View::Tree,
        "ops" => View::Ops,
        "memory" => View::Memory,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown view `{other}` (known: layers, tree, ops, memory)"
            )));
        }
    };
    let units = match units {
        "human" => flopscope::report::Units::Human,
        "raw" => flopscope::report::Units::Raw,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown units `{other}` (known: human, raw)"
            )));
        }
    };
    Ok(ViewOptions {
        view,
        units,
        all_nodes: all,
        depth,
        ..ViewOptions::default()
    })
}

impl Report {
    fn json(&self) -> PyResult<Value> {
        serde_json::to_value(&self.inner).map_err(|e| Error::new_err(e.to_string()))
    }
}

#[pymethods]
impl Report {
    /// The model totals by name (`macs`, `flops`, `params`, ...): `int`s, or `Formula`s in the
    /// dims left free.
    #[getter]
    fn totals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = &self.inner.totals;
        let dict = PyDict::new(py);
        for kind in TotalKind::ALL {
            dict.set_item(kind.key(), count(py, &kind.of(t))?)?;
        }
        dict.set_item("constants", count(py, &t.constants)?)?;
        dict.set_item("lower_bound", t.lower_bound)?;
        Ok(dict)
    }

    /// What the profile's `convention` counts (`None` without one): the tool, its unit, its
    /// total (an `int` or a `Formula`) and its totals by op class.
    #[getter]
    fn convention<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(c) = &self.inner.convention else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("convention", &c.convention)?;
        dict.set_item("tool", &c.tool)?;
        dict.set_item("unit", &c.unit)?;
        dict.set_item("label", &c.label)?;
        dict.set_item("total", count(py, &c.total)?)?;
        let by_class = PyDict::new(py);
        for (class, n) in &c.by_class {
            by_class.set_item(class, count(py, n)?)?;
        }
        dict.set_item("by_class", by_class)?;
        dict.set_item("lower_bound", c.lower_bound)?;
        Ok(Some(dict))
    }

    /// What a generation costs (`flopscope.generate`), as the JSON's `generation` object:
    /// prefill, decode and total totals, every decode step, the KV cache's bytes; `None` for
    /// a plain profile.
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.inner.generation {
            Some(g) => data(py, g),
            None => Ok(py.None()),
        }
    }

    /// The machine times were estimated for (`hardware=`) and the model's estimated time, as
    /// the JSON's `hardware` object; `None` without one.
    #[getter]
    fn hardware(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.inner.hardware {
            Some(h) => data(py, h),
            None => Ok(py.None()),
        }
    }

    /// Every node in execution order, as the JSON report has it.
    #[getter]
    fn nodes(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.json()?["nodes"])
    }

    /// The ops flopscope did not count, grouped by op and reason: the totals are lower bounds
    /// when this is not empty.
    #[getter]
    fn uncounted(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.json()?["uncounted"])
    }

    /// The module tree: each module's name, params, MACs, FLOPs, nodes and children.
    #[getter]
    fn modules(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        fn module(py: Python<'_>, m: &flopscope::report::Module) -> PyResult<Py<PyAny>> {
            let dict = PyDict::new(py);
            dict.set_item("name", &m.name)?;
            dict.set_item("params", count(py, &m.params)?)?;
            dict.set_item("buffers", count(py, &m.buffers)?)?;
            dict.set_item("macs", count(py, &m.macs)?)?;
            dict.set_item("flops", count(py, &m.flops)?)?;
            dict.set_item("bytes", count(py, &m.bytes)?)?;
            dict.set_item("nodes", m.nodes)?;
            let children = PyList::empty(py);
            for c in &m.children {
                children.append(module(py, c)?)?;
            }
            dict.set_item("children", children)?;
            Ok(dict.into_any().unbind())
        }
        module(py, &flopscope::report::module_tree(&self.inner))
    }

    /// The report as the JSON of `flopscope profile --format json` (schema version 1).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.json()?)
    }

    /// The JSON text.
    fn to_json(&self) -> PyResult<String> {
        self.inner
            .to_json()
            .map_err(|e| Error::new_err(e.to_string()))
    }

    /// A view as text, as the CLI prints it: `view` layers, tree, ops or memory; `format`
    /// table, markdown or csv.
    #[pyo3(signature = (view = "layers", format = "table", units = "human", depth = 3, all = false))]
    fn table(
        &self,
        view: &str,
        format: &str,
        units: &str,
        depth: usize,
        all: bool,
    ) -> PyResult<String> {
        let o = view_options(view, units, depth, all)?;
        match format {
            "table" => Ok(render_view_table(&self.inner, &o)),
            "markdown" => Ok(render_view_markdown(&self.inner, &o)),
            "csv" => Ok(render_view_csv(&self.inner, &o)),
            other => Err(PyValueError::new_err(format!(
                "unknown format `{other}` (known: table, markdown, csv)"
            ))),
        }
    }

    /// A view's rows as a `pandas.DataFrame` (pandas is optional: without it, an ImportError
    /// says how to get it). Numbers are exact integers; a count that depends on a free dim is its
    /// formula as text.
    #[pyo3(signature = (view = "layers"))]
    fn to_pandas(&self, py: Python<'_>, view: &str) -> PyResult<Py<PyAny>> {
        let pandas = py.import("pandas").map_err(|_| {
            pyo3::exceptions::PyImportError::new_err(
                "Report.to_pandas needs pandas: pip install pandas",
            )
        })?;
        let mut o = view_options(view, "raw", usize::MAX, true)?;
        o.units = flopscope::report::Units::Plain;
        let Some(main) = flopscope::report::views::sections(&self.inner, &o)
            .into_iter()
            .next()
        else {
            return Err(Error::new_err(format!("the {view} view has no table")));
        };
        let rows = PyList::empty(py);
        for row in &main.rows {
            let cells = PyList::empty(py);
            for cell in row {
                match cell.parse::<i64>() {
                    Ok(v) => cells.append(v)?,
                    Err(_) => cells.append(cell)?,
                }
            }
            rows.append(cells)?;
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("columns", &main.header)?;
        Ok(pandas
            .getattr("DataFrame")?
            .call((rows,), Some(&kwargs))?
            .unbind())
    }

    /// The HTML report, so that a notebook shows it: the page `save("x.html")` writes, in an
    /// iframe of its own (its styles, ids and script stay apart from the notebook's).
    fn _repr_html_(&self) -> String {
        flopscope::report::html::embed(&render_html(&self.inner, &ViewOptions::default()))
    }

    /// Writes the report in the format its extension names: .json, .html, .csv, .md, .svg.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let o = ViewOptions::default();
        let text = match ext.as_deref() {
            Some("json") => self.to_json()?,
            Some("html") => render_html(&self.inner, &o),
            Some("csv") => render_view_csv(&self.inner, &o),
            Some("md") => render_view_markdown(&self.inner, &o),
            Some("svg") => render_svg(&self.inner),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{}: the extension must be .json, .html, .csv, .md or .svg",
                    path.display()
                )));
            }
        };
        std::fs::write(&path, text)
            .map_err(|e| Error::new_err(format!("cannot write {}: {e}", path.display())))
    }

    fn __repr__(&self) -> String {
        let t = &self.inner.totals;
        format!(
            "<flopscope.Report {}: {} MACs, {} params>",
            self.inner.model.path, t.macs, t.params
        )
    }
}

/// A shape from Python: ints, or names for dims kept symbolic.
fn shape(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<Dim>> {
    let items: Vec<Bound<'_, PyAny>> = value
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("inputs[{name:?}] must be a sequence of dims")))?
        .collect::<PyResult<_>>()?;
    items
        .iter()
        .map(|d| {
            if let Ok(v) = d.extract::<i64>() {
                Ok(Dim::from_i64(v))
            } else if let Ok(s) = d.extract::<String>() {
                Dim::parse(&s).map_err(|e| PyValueError::new_err(format!("inputs[{name:?}]: {e}")))
            } else {
                Err(PyTypeError::new_err(format!(
                    "inputs[{name:?}]: a dim is an int or a name, not {d}"
                )))
            }
        })
        .collect()
}

/// The engine's error as `flopscope.Error`, with `.node` and `.op` where the error names them.
fn error(py: Python<'_>, e: &flopscope::Error) -> PyErr {
    let err = Error::new_err(format!("{e}"));
    let at = match e {
        flopscope::Error::Profile {
            source:
                ProfileError::Node { node, op_type, .. } | ProfileError::Overflow { node, op_type, .. },
            ..
        } => Some((node.clone(), op_type.clone())),
        _ => None,
    };
    let value = err.value(py);
    let (node, op) = at.map_or((None, None), |(n, o)| (Some(n), Some(o)));
    let _ = value.setattr("node", node);
    let _ = value.setattr("op", op);
    err
}

/// Profiles a model: a path, or the bytes of an ONNX file. `inputs` fixes input shapes (a dim
/// may be a name), `dims` gives named dims values, `input_values` binds inputs to serialized
/// TensorProto files, `op_costs` declares custom ops (TOML files), `convention` also counts as
/// another tool does.
#[pyfunction]
#[pyo3(signature = (model, inputs = None, dims = None, input_values = None, op_costs = None, convention = None, hardware = None))]
#[allow(clippy::too_many_arguments)]
fn profile(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    inputs: Option<&Bound<'_, PyDict>>,
    dims: Option<&Bound<'_, PyDict>>,
    input_values: Option<&Bound<'_, PyDict>>,
    op_costs: Option<Vec<PathBuf>>,
    convention: Option<String>,
    hardware: Option<String>,
) -> PyResult<Report> {
    let hardware = resolve_hardware(hardware)?;
    enum Source {
        File(PathBuf),
        Bytes(Vec<u8>),
    }
    let source = if let Ok(bytes) = model.cast::<PyBytes>() {
        Source::Bytes(bytes.as_bytes().to_vec())
    } else if let Ok(path) = model.extract::<PathBuf>() {
        Source::File(path)
    } else {
        return Err(PyTypeError::new_err(
            "model must be a path, bytes, or an onnx.ModelProto",
        ));
    };
    let mut options = ProfileOptions::default();
    for (k, v) in inputs.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract()?;
        let dims = shape(&name, &v)?;
        options.inputs.insert(name, dims);
    }
    for (k, v) in dims.into_iter().flat_map(|d| d.iter()) {
        let value: i64 = v.extract()?;
        options.dims.insert(k.extract()?, Dim::from_i64(value));
    }
    let values: Vec<(String, PathBuf)> = input_values
        .into_iter()
        .flat_map(|d| d.iter())
        .map(|(k, v)| Ok((k.extract()?, v.extract()?)))
        .collect::<PyResult<_>>()?;
    let declared = flopscope::op_costs::load_all(&op_costs.unwrap_or_default())
        .map_err(|e| Error::new_err(e.to_string()))?;
    options.declared_ops = flopscope::op_costs::declared(&declared);
    let convention: Option<Convention> = convention
        .map(|c| c.parse())
        .transpose()
        .map_err(|e: flopscope::report::UnknownConvention| PyValueError::new_err(e.to_string()))?;

    let result = py.detach(move || -> Result<RustReport, flopscope::Error> {
        // The bytes move into the loader: the model (weights included) is not copied again.
        let (path, model) = match source {
            Source::File(path) => {
                let model = flopscope::onnx::load(&path)?;
                (path, model)
            }
            Source::Bytes(bytes) => {
                let path = PathBuf::from("<bytes>");
                let model = flopscope::onnx::load_bytes(bytes.into(), &path)?;
                (path, model)
            }
        };
        for (name, file) in &values {
            let value = flopscope::load_input_value(&model, name, file)?;
            options.input_values.insert(name.clone(), value);
        }
        let profile = flopscope::profile_model(&path, &model, &options)?;
        let report = RustReport::new(&path.display().to_string(), &model, &profile);
        Ok(match convention {
            Some(c) => report.with_convention(c),
            None => report,
        })
    });
    let report = result.map_err(|e| error(py, &e))?;
    let inner = match hardware {
        Some(h) => report
            .with_hardware(h)
            .map_err(|e| Error::new_err(e.to_string()))?,
        None => report,
    };
    Ok(Report { inner })
}

/// Prices a generation on a decoder with a key/value cache (as `flopscope generate`): the
/// report of the symbolic profile, with `.generation`.
#[pyfunction]
#[pyo3(signature = (model, prompt, new_tokens, batch = 1, dims = None, seq_dim = None, past_dim = None, recompute = false, op_costs = None, hardware = None))]
#[allow(clippy::too_many_arguments)]
fn generate(
    py: Python<'_>,
    model: PathBuf,
    prompt: i64,
    new_tokens: i64,
    batch: i64,
    dims: Option<&Bound<'_, PyDict>>,
    seq_dim: Option<String>,
    past_dim: Option<String>,
    recompute: bool,
    op_costs: Option<Vec<PathBuf>>,
    hardware: Option<String>,
) -> PyResult<Report> {
    if prompt < 1 || new_tokens < 1 || batch < 1 {
        return Err(PyValueError::new_err(format!(
            "prompt, new_tokens and batch must be at least 1 (got {prompt}, {new_tokens}, {batch})"
        )));
    }
    let hardware = resolve_hardware(hardware)?;
    let mut request = flopscope::generate::GenerateRequest {
        prompt,
        new_tokens,
        batch,
        seq_dim,
        past_dim,
        recompute,
        hardware,
        ..Default::default()
    };
    for (k, v) in dims.into_iter().flat_map(|d| d.iter()) {
        request.dims.push((k.extract()?, v.extract()?));
    }
    let declared = flopscope::op_costs::load_all(&op_costs.unwrap_or_default())
        .map_err(|e| Error::new_err(e.to_string()))?;
    request.declared_ops = flopscope::op_costs::declared(&declared);
    let result = py.detach(move || -> Result<RustReport, flopscope::Error> {
        let m = flopscope::onnx::load(&model)?;
        flopscope::generate::generate(&model, &m, &request)
    });
    result
        .map(|inner| Report { inner })
        .map_err(|e| error(py, &e))
}

/// `hardware=`: a preset's name, `this-machine`, or a TOML file.
fn resolve_hardware(spec: Option<String>) -> PyResult<Option<flopscope::report::Hardware>> {
    spec.as_deref()
        .map(flopscope::hardware::resolve)
        .transpose()
        .map_err(|e| Error::new_err(e.to_string()))
}

/// Any serializable result as Python values.
fn data<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).map_err(|e| Error::new_err(e.to_string()))?;
    to_py(py, &json)
}

/// The totals over a grid of sizes, as `flopscope sweep --format json` has them: `dims` maps
/// a named dim to its values, `sizes` sets height and width together, `inputs` maps an input to
/// one or several shapes.
#[pyfunction]
#[pyo3(signature = (model, dims = None, sizes = None, inputs = None, op_costs = None, hardware = None))]
fn sweep(
    py: Python<'_>,
    model: PathBuf,
    dims: Option<&Bound<'_, PyDict>>,
    sizes: Option<Vec<i64>>,
    inputs: Option<&Bound<'_, PyDict>>,
    op_costs: Option<Vec<PathBuf>>,
    hardware: Option<String>,
) -> PyResult<Py<PyAny>> {
    let hardware = resolve_hardware(hardware)?;
    let mut request = flopscope::sweep::SweepRequest {
        sizes,
        hardware,
        ..Default::default()
    };
    for (k, v) in dims.into_iter().flat_map(|d| d.iter()) {
        request.dims.push((k.extract()?, v.extract()?));
    }
    for (k, v) in inputs.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract()?;
        let shapes: Vec<Bound<'_, PyAny>> = v.try_iter()?.collect::<PyResult<_>>()?;
        // One shape (a sequence of dims) or several (a sequence of shapes).
        let several = shapes
            .first()
            .is_some_and(|s| s.try_iter().is_ok() && s.extract::<String>().is_err());
        let shapes = if several {
            shapes
                .iter()
                .map(|s| shape(&name, s))
                .collect::<PyResult<Vec<_>>>()?
        } else {
            vec![shape(&name, &v)?]
        };
        request.inputs.push((name, shapes));
    }
    let declared = flopscope::op_costs::load_all(&op_costs.unwrap_or_default())
        .map_err(|e| Error::new_err(e.to_string()))?;
    request.declared_ops = flopscope::op_costs::declared(&declared);
    let result = py.detach(move || -> Result<_, flopscope::Error> {
        let m = flopscope::onnx::load(&model)?;
        flopscope::sweep::sweep(&model, &m, &request)
    });
    let report = result.map_err(|e| error(py, &e))?;
    data(py, &report)
}

/// What changed from `old` to `new`, as `flopscope diff --format json` has it.
#[pyfunction]
#[pyo3(signature = (old, new, depth = 3))]
fn _diff(py: Python<'_>, old: &Report, new: &Report, depth: usize) -> PyResult<Py<PyAny>> {
    data(
        py,
        &flopscope::report::ReportDiff::new(&old.inner, &new.inner, depth),
    )
}

/// The model counted as thop, ptflops, fvcore, torch and onnx-tool count, as `flopscope compare
/// --format json` has it.
#[pyfunction]
fn _compare(py: Python<'_>, report: &Report) -> PyResult<Py<PyAny>> {
    data(py, &flopscope::report::Comparison::new(&report.inner))
}

/// Every op flopscope counts: domain, op type, opsets, class and cost formula.
#[pyfunction]
fn ops(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for d in flopscope::counters::registry().iter() {
        let dict = PyDict::new(py);
        dict.set_item("domain", d.domain_name())?;
        dict.set_item("op_type", d.op_type)?;
        dict.set_item("opsets", d.opsets.to_string())?;
        dict.set_item("class", d.class.key())?;
        dict.set_item("formula", d.formula)?;
        list.append(dict)?;
    }
    Ok(list.into_any().unbind())
}

/// `python -m flopscope ARGS`: the `flopscope` command line; returns its exit status.
#[pyfunction]
fn _cli(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(move || {
        let status = flopscope::cli::run_in(
            argv,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
            flopscope::cli::Terminal::stdout(),
        );
        match status {
            flopscope::cli::ExitStatus::Success => 0,
            flopscope::cli::ExitStatus::Error => 1,
            flopscope::cli::ExitStatus::Usage => 2,
            flopscope::cli::ExitStatus::GateFailed => 3,
        }
    })
}

#[pymodule]
fn _flopscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Formula>()?;
    m.add_class::<Report>()?;
    m.add_function(wrap_pyfunction!(profile, m)?)?;
    m.add_function(wrap_pyfunction!(ops, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(_diff, m)?)?;
    m.add_function(wrap_pyfunction!(_compare, m)?)?;
    m.add_function(wrap_pyfunction!(_cli, m)?)?;
    Ok(())
}
