"""The OpenAPI document (openapi/openapi.yaml) and the judgement of a real answer against it.

``answer_problems(schema, response)`` says what is wrong with one HTTP answer: an operation the
document does not describe, a status code the operation does not declare, a media type it does
not declare, or a body that does not match the declared schema (validated by schemathesis'
own response validation, i.e. jsonschema_rs on the resolved OpenAPI 3.1 schema).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import schemathesis
import yaml
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.schemas import OpenApiSchema

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"


@lru_cache(maxsize=1)
def raw_spec() -> dict[str, Any]:
    return dict(yaml.safe_load(SPEC_PATH.read_text()))


def load_schema(base_url: str | None = None) -> OpenApiSchema:
    """A schemathesis view of the document, optionally bound to a live server."""
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    if base_url is not None:
        schema.config.update(base_url=base_url)
    return schema


def _declared_media_types(path_template: str, method: str, status: int) -> set[str]:
    responses = raw_spec()["paths"][path_template][method.lower()]["responses"]
    declared = (
        responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default") or {}
    )
    if "$ref" in declared:
        declared = raw_spec()["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    return set((declared.get("content") or {}).keys())


def answer_problems(schema: OpenApiSchema, response: httpx.Response) -> list[str]:
    """Everything the document says is wrong with ``response`` (empty when it conforms)."""
    request = response.request
    label = f"{request.method} {request.url.path} -> {response.status_code}"
    operation = schema.find_operation_by_path(request.method, request.url.path)
    if operation is None:
        return [f"{label}: no operation in the document"]
    if operation.responses.find_by_status_code(response.status_code) is None:
        return [f"{label}: status not declared for {operation.label}: {response.text[:300]}"]
    problems: list[str] = []
    declared = _declared_media_types(operation.path, request.method, response.status_code)
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if response.content and media_type not in declared:
        problems.append(f"{label}: media type {media_type!r} not in {sorted(declared)}")
    if not response.content and declared:
        problems.append(f"{label}: empty body, but the document declares {sorted(declared)}")
    try:
        operation.validate_response(response)
    except (FailureGroup, Failure) as exc:
        details = [str(e) for e in exc.exceptions] if isinstance(exc, FailureGroup) else [str(exc)]
        problems += [f"{label}: {detail}\nbody: {response.text[:500]}" for detail in details]
    return problems
