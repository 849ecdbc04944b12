"""The public surface is pinned, and ``mapping`` stays pure (style.md rule 2; design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import mapping

PACKAGE = Path(mapping.__file__).parent
ALLOWED_IMPORTS = {"__future__", "collections", "dataclasses", "types", "typing", "unicodedata", "mapping"}


def test_exported_members() -> None:
    """Every name in ``__all__`` exists, and every public object ``mapping`` defines is exported."""
    assert len(set(mapping.__all__)) == len(mapping.__all__)
    assert all(hasattr(mapping, name) for name in mapping.__all__)
    defined = {
        name
        for name, value in vars(mapping).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("mapping.")
    }
    assert defined <= set(mapping.__all__)
    assert {"reconcile", "match", "desired_state", "member_sets", "plan", "apply", "Plan"} <= set(
        mapping.__all__
    )


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_mapping_is_pure() -> None:
    """No I/O, clock, logging, randomness, database, or service/connector code can be reached."""
    for path in sorted(PACKAGE.glob("*.py")):
        assert _imports(path) <= ALLOWED_IMPORTS, (path.name, _imports(path) - ALLOWED_IMPORTS)
        source = path.read_text(encoding="utf-8")
        for call in ("open(", "print(", "input(", "__import__("):
            assert call not in source.replace("isopen(", ""), (path.name, call)
