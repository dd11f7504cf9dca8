"""quart-schema makes a pydantic TypeAdapter for every request body it validates and every
answer it validates or dumps (quart_schema.conversion: `TypeAdapter(model)` per call), about
10 us each, and a TypeAdapter of a plain dict or list costs ten times that. An adapter holds
nothing of the value it checks, so one per type serves every request: `reuse_adapters` makes
quart-schema's conversion module build each once."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from quart_schema import conversion


@functools.cache
def _cached(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def adapter(model: Any) -> TypeAdapter[Any]:
    """The one TypeAdapter of `model` (a new one for a type that cannot be a cache key)."""
    try:
        return _cached(model)
    except TypeError:  # unhashable, e.g. Annotated with a dict in its metadata
        return TypeAdapter(model)


def reuse_adapters() -> None:
    """quart-schema's conversion builds each type's adapter once (pinned to the 0.25 series,
    whose model_load, model_dump and model_schema call `TypeAdapter(model)`)."""
    conversion.TypeAdapter = adapter  # type: ignore[attr-defined,assignment]
