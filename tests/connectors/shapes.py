"""``assert_same_shape``: a sandbox payload has every field of a vendor sample, with the same types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"


def load_sample(kind: str, name: str) -> Any:
    return json.loads((SAMPLES / kind / name).read_text())


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(sample: Any, actual: Any, path: str = "$") -> None:
    """Every key of ``sample`` is in ``actual`` with the same JSON type (recursively; lists compare
    their first items; a ``null`` in the sample accepts any value). Extra keys are allowed."""
    if sample is None:
        return
    assert _type_name(actual) == _type_name(sample), f"{path}: {_type_name(actual)} != {_type_name(sample)}"
    if isinstance(sample, dict):
        for key, value in sample.items():
            assert key in actual, f"{path}.{key} missing from the sandbox payload"
            assert_same_shape(value, actual[key], f"{path}.{key}")
    elif isinstance(sample, list) and sample:
        assert actual, f"{path}: the sandbox returned an empty list"
        assert_same_shape(sample[0], actual[0], f"{path}[0]")
