//! Input binding: gives every graph input a type (from the value given for it, its given
//! shape, or its declaration), unifies given shapes with declared ones to bind the model's
//! named dims, and checks once the graph has run that every `--dim` named a dim the profile
//! knows.

use std::collections::{BTreeMap, BTreeSet};

use flopscope_ir::{
    ConstTensor, ConstValue, DeclaredType, Dim, Graph, SequenceType, TensorType, ValueDef, ValueId,
    ValueType,
};

use super::{NodeProfile, ProfileError, ProfileOptions};

/// An input's type, and its stored value when the caller gave one.
type BoundInput<'a> = (ValueId, ValueType, Option<&'a ConstTensor>);

/// Gives every graph input a type: from the value given for it (`--input-value`), else the
/// `--input` shape (binding the model's named dims to it), else the declared type with fresh
/// symbols for unnamed dims; then applies every binding.
pub(super) fn bind_inputs<'a>(
    graph: &Graph,
    options: &'a ProfileOptions,
) -> Result<BoundInputs<'a>, ProfileError> {
    let negative = |d: &Dim| d.as_i64().filter(|v| *v < 0);
    for (name, shape) in &options.inputs {
        if let Some((axis, value)) = shape
            .iter()
            .enumerate()
            .find_map(|(a, d)| Some((a, negative(d)?)))
        {
            let what = format!("input `{name}` dim {axis}");
            return Err(ProfileError::NegativeSize { what, value });
        }
    }
    for (name, d) in &options.dims {
        if let Some(value) = negative(d) {
            let what = format!("dim `{name}`");
            return Err(ProfileError::NegativeSize { what, value });
        }
    }
    for name in options.inputs.keys().chain(options.input_values.keys()) {
        match graph.find_value(name).map(|id| &graph.value(id).def) {
            Some(ValueDef::Input) => {}
            Some(ValueDef::Initializer(_)) => {
                return Err(ProfileError::ConstantInput { name: name.clone() });
            }
            _ => {
                return Err(ProfileError::UnknownInput {
                    name: name.clone(),
                    known: graph
                        .inputs
                        .iter()
                        .map(|id| graph.value(*id).name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }

    let mut b = Binder::default();
    let mut inputs = Vec::new();
    for &id in &graph.inputs {
        let value = graph.value(id);
        let name = &value.name;
        let declared = value.declared.as_ref();
        let stored = options.input_values.get(name);
        let (ty, init) = match (stored, options.inputs.get(name)) {
            (Some(stored), given) => {
                let ty = b.type_of_value(name, stored, declared)?;
                if let (Some(given), ValueType::Tensor(t)) = (given, &ty)
                    && given != &t.shape
                {
                    return Err(ProfileError::DimMismatch {
                        name: name.clone(),
                        axis: 0,
                        model: Dim::from_i64(t.rank() as i64),
                        given: Dim::from_i64(given.len() as i64),
                    });
                }
                let init = match stored {
                    ConstValue::Tensor(t) => Some(t),
                    _ => None,
                };
                (ty, init)
            }
            (None, Some(given)) => {
                let dtype = match declared {
                    Some(DeclaredType::Tensor {
                        dtype: Some(dtype), ..
                    }) => *dtype,
                    _ => {
                        return Err(ProfileError::UndeclaredInput {
                            name: name.clone(),
                            what: "element type",
                        });
                    }
                };
                if let Some(DeclaredType::Tensor {
                    shape: Some(shape), ..
                }) = declared
                    && !options.replace_declared_shapes
                {
                    b.unify(name, shape, given)?;
                }
                (
                    ValueType::Tensor(TensorType::new(dtype, given.clone())),
                    None,
                )
            }
            (None, None) => {
                let declared = declared.ok_or_else(|| ProfileError::UndeclaredInput {
                    name: name.clone(),
                    what: "type",
                })?;
                (b.type_of_declared(name, declared)?, None)
            }
        };
        inputs.push((id, ty, init));
    }

    // A dim no input names may name a size the profile derives or finds data-dependent
    // (`--dim resize_0_d2=800`): bound now, checked once the graph has run.
    let mut late = Vec::new();
    for (symbol, value) in &options.dims {
        if !b.symbols_seen.contains(symbol) {
            late.push(symbol.clone());
        }
        b.bind(symbol, value)?;
    }
    for (name, axis, declared, given) in std::mem::take(&mut b.deferred) {
        let model = substitute(&declared, &b.bindings);
        if model.is_const() && model != given {
            return Err(ProfileError::DimMismatch {
                name,
                axis,
                model,
                given,
            });
        }
    }
    let inputs = inputs
        .into_iter()
        .map(|(id, ty, init)| (id, substitute_value_type(&ty, &b.bindings), init))
        .collect();
    Ok(BoundInputs {
        inputs,
        bindings: b.bindings,
        input_symbols: b.symbols_seen,
        late,
    })
}

/// The model's inputs as bound, and the bindings of its named dims.
pub(super) struct BoundInputs<'a> {
    pub(super) inputs: Vec<BoundInput<'a>>,
    pub(super) bindings: BTreeMap<String, Dim>,
    /// The named dims of the inputs.
    pub(super) input_symbols: BTreeSet<String>,
    /// `--dim` names that no input has: they must name a derived or data-dependent dim.
    pub(super) late: Vec<String>,
}

/// An error for the first `--dim` in `late` that names no input dim and no symbol the profile
/// introduced.
pub(super) fn check_late_bindings(
    late: &[String],
    input_symbols: &BTreeSet<String>,
    nodes: &[NodeProfile],
) -> Result<(), ProfileError> {
    let introduced: BTreeSet<&str> = nodes.iter().flat_map(NodeProfile::symbols).collect();
    match late.iter().find(|s| !introduced.contains(s.as_str())) {
        None => Ok(()),
        Some(symbol) => {
            let known: Vec<&str> = input_symbols
                .iter()
                .map(String::as_str)
                .chain(introduced.iter().copied())
                .collect();
            Err(ProfileError::UnknownSymbol {
                symbol: symbol.clone(),
                known: if known.is_empty() {
                    "none: every input dim is fixed".into()
                } else {
                    known.join(", ")
                },
            })
        }
    }
}

/// Collects the values given to the model's named dims while inputs are bound.
#[derive(Default)]
struct Binder {
    bindings: BTreeMap<String, Dim>,
    symbols_seen: BTreeSet<String>,
    /// Declared dims that are expressions, checked once every symbol is bound:
    /// (input, axis, declared, given).
    deferred: Vec<(String, usize, Dim, Dim)>,
}

impl Binder {
    fn bind(&mut self, symbol: &str, value: &Dim) -> Result<(), ProfileError> {
        match self.bindings.get(symbol) {
            Some(prev) if prev != value => Err(ProfileError::ConflictingBinding {
                symbol: symbol.to_owned(),
                first: prev.clone(),
                second: value.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                self.bindings.insert(symbol.to_owned(), value.clone());
                Ok(())
            }
        }
    }

    /// Matches a given shape against the declared one, binding the declared named dims.
    fn unify(
        &mut self,
        name: &str,
        declared: &[Option<Dim>],
        given: &[Dim],
    ) -> Result<(), ProfileError> {
        if given.len() != declared.len() {
            return Err(ProfileError::RankMismatch {
                name: name.to_owned(),
                model: declared.len(),
                given: given.len(),
            });
        }
        for (axis, (g, d)) in given.iter().zip(declared).enumerate() {
            let Some(d) = d else { continue };
            if let Some(symbol) = plain_symbol(d) {
                self.bind(&symbol, g)?;
                self.symbols_seen.insert(symbol);
            } else if d.is_const() {
                if d != g {
                    return Err(ProfileError::DimMismatch {
                        name: name.to_owned(),
                        axis,
                        model: d.clone(),
                        given: g.clone(),
                    });
                }
            } else {
                self.symbols_seen
                    .extend(d.symbols().iter().map(|s| s.to_string()));
                self.deferred
                    .push((name.to_owned(), axis, d.clone(), g.clone()));
            }
        }
        Ok(())
    }

    /// The type a declaration gives, with a fresh symbol for every unnamed dim.
    fn type_of_declared(
        &mut self,
        name: &str,
        declared: &DeclaredType,
    ) -> Result<ValueType, ProfileError> {
        match declared {
            DeclaredType::Tensor {
                dtype: Some(dtype),
                shape: Some(shape),
            } => {
                let shape = shape
                    .iter()
                    .enumerate()
                    .map(|(axis, d)| {
                        let d = d
                            .clone()
                            .unwrap_or_else(|| Dim::sym(&fresh_input_dim(name, axis)));
                        self.symbols_seen
                            .extend(d.symbols().iter().map(|s| s.to_string()));
                        d
                    })
                    .collect();
                Ok(ValueType::Tensor(TensorType::new(*dtype, shape)))
            }
            DeclaredType::Tensor { dtype: None, .. } => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: "element type",
            }),
            DeclaredType::Tensor { shape: None, .. } => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: "shape",
            }),
            DeclaredType::Sequence(elem) => Ok(ValueType::Sequence(SequenceType::of(
                self.type_of_declared(name, elem)?,
            ))),
            DeclaredType::Optional(elem) => Ok(ValueType::Optional(Box::new(
                self.type_of_declared(name, elem)?,
            ))),
            DeclaredType::Other(kind) => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: if kind == "map" {
                    "supported type (maps are not)"
                } else {
                    "supported type"
                },
            }),
        }
    }

    /// The type of a stored value; a tensor binds the declared named dims to its dims. A
    /// sequence's element type is what its elements agree on (fresh symbols where they
    /// differ); an empty sequence or optional takes the declared element type.
    fn type_of_value(
        &mut self,
        name: &str,
        value: &ConstValue,
        declared: Option<&DeclaredType>,
    ) -> Result<ValueType, ProfileError> {
        match value {
            ConstValue::Tensor(t) => {
                let ty = t.tensor_type();
                if let Some(DeclaredType::Tensor {
                    shape: Some(shape), ..
                }) = declared
                {
                    self.unify(name, shape, &ty.shape)?;
                }
                Ok(ValueType::Tensor(ty))
            }
            ConstValue::Sequence(items) => {
                // A stored sequence has a known length and known element types.
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.type_of_value(&format!("{name}_{i}"), item, None))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ValueType::Sequence(SequenceType::Items(items)))
            }
            ConstValue::Optional(inner) => {
                let elem_declared = match declared {
                    Some(DeclaredType::Optional(e)) => Some(e.as_ref()),
                    _ => None,
                };
                let elem = match (inner, elem_declared) {
                    (Some(v), d) => self.type_of_value(name, v, d)?,
                    (None, Some(d)) => self.type_of_declared(name, d)?,
                    (None, None) => {
                        return Err(ProfileError::UndeclaredInput {
                            name: name.to_owned(),
                            what: "optional element type",
                        });
                    }
                };
                Ok(ValueType::Optional(Box::new(elem)))
            }
        }
    }
}

/// The symbol's name if `d` is exactly one symbol.
fn plain_symbol(d: &Dim) -> Option<String> {
    match d.symbols().as_slice() {
        [s] if *d == Dim::sym(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The name of an input dim the model leaves unnamed: `<input>_d<axis>`, made a valid symbol.
fn fresh_input_dim(input: &str, axis: usize) -> String {
    Dim::symbol_name(&format!("{input}_d{axis}"))
}

fn substitute(d: &Dim, bindings: &BTreeMap<String, Dim>) -> Dim {
    if bindings.is_empty() || d.is_const() {
        return d.clone();
    }
    d.substitute(&|s: &str| bindings.get(s).cloned())
}

pub(super) fn substitute_type(t: &TensorType, bindings: &BTreeMap<String, Dim>) -> TensorType {
    TensorType::new(
        t.dtype,
        t.shape.iter().map(|d| substitute(d, bindings)).collect(),
    )
}

fn substitute_value_type(t: &ValueType, bindings: &BTreeMap<String, Dim>) -> ValueType {
    match t {
        ValueType::Tensor(t) => ValueType::Tensor(substitute_type(t, bindings)),
        ValueType::Sequence(SequenceType::Elements(e)) => {
            ValueType::Sequence(SequenceType::Elements(
                e.as_ref()
                    .map(|e| Box::new(substitute_value_type(e, bindings))),
            ))
        }
        ValueType::Sequence(SequenceType::Items(items)) => {
            ValueType::Sequence(SequenceType::Items(
                items
                    .iter()
                    .map(|t| substitute_value_type(t, bindings))
                    .collect(),
            ))
        }
        ValueType::Optional(e) => ValueType::Optional(Box::new(substitute_value_type(e, bindings))),
    }
}
