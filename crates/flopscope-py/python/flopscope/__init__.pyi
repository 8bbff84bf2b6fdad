from os import PathLike
from typing import Any, Mapping, Sequence, Union

__version__: str

class Error(Exception):
    node: str | None
    op: str | None

class Formula:
    @property
    def symbols(self) -> list[str]: ...
    def evaluate(self, **dims: int) -> int: ...
    def __call__(self, **dims: int) -> int: ...

Count = Union[int, Formula]

class Report:
    @property
    def totals(self) -> dict[str, Union[Count, bool]]: ...
    @property
    def convention(self) -> dict[str, Any] | None: ...
    @property
    def generation(self) -> dict[str, Any] | None: ...
    @property
    def hardware(self) -> dict[str, Any] | None: ...
    @property
    def nodes(self) -> list[dict[str, Any]]: ...
    @property
    def uncounted(self) -> list[dict[str, Any]]: ...
    @property
    def modules(self) -> dict[str, Any]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def table(
        self, view: str = "layers", format: str = "table", units: str = "human",
        depth: int = 3, all: bool = False,
    ) -> str: ...
    def to_pandas(self, view: str = "layers") -> Any: ...
    def _repr_html_(self) -> str: ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...

def profile(
    model: Union[str, PathLike[str], bytes, Any],
    inputs: Mapping[str, Sequence[Union[int, str]]] | None = None,
    dims: Mapping[str, int] | None = None,
    input_values: Mapping[str, Union[str, PathLike[str]]] | None = None,
    op_costs: Union[str, PathLike[str], Sequence[Union[str, PathLike[str]]]] | None = None,
    convention: str | None = None,
    hardware: str | None = None,
) -> Report: ...

def ops() -> list[dict[str, str]]: ...

def generate(
    model: Union[str, PathLike[str]],
    prompt: int,
    new_tokens: int,
    batch: int = 1,
    dims: Mapping[str, int] | None = None,
    seq_dim: str | None = None,
    past_dim: str | None = None,
    recompute: bool = False,
    op_costs: Sequence[Union[str, PathLike[str]]] | None = None,
    hardware: str | None = None,
) -> Report: ...

def sweep(
    model: Union[str, PathLike[str]],
    dims: Mapping[str, Sequence[int]] | None = None,
    sizes: Sequence[int] | None = None,
    inputs: Mapping[str, Sequence[Any]] | None = None,
    op_costs: Sequence[Union[str, PathLike[str]]] | None = None,
    hardware: str | None = None,
) -> dict[str, Any]: ...

def diff(
    old: Union[Report, str, PathLike[str], bytes, Any],
    new: Union[Report, str, PathLike[str], bytes, Any],
    inputs: Mapping[str, Sequence[Union[int, str]]] | None = None,
    dims: Mapping[str, int] | None = None,
    depth: int = 3,
) -> dict[str, Any]: ...

def compare(
    model: Union[Report, str, PathLike[str], bytes, Any],
    inputs: Mapping[str, Sequence[Union[int, str]]] | None = None,
    dims: Mapping[str, int] | None = None,
    op_costs: Sequence[Union[str, PathLike[str]]] | None = None,
) -> dict[str, Any]: ...

