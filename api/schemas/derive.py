"""Request and answer models derived from one spec, so an object's fields are written once.

A spec is a RequestModel that declares every field a user may set, with its type and rules. The
create request, the update request and the answer are built from its fields here; column limits
(max_length) and documented defaults come from the Tortoise model itself."""

from __future__ import annotations

import types
from collections.abc import Callable, Collection
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from tortoise.models import Model

from api.schemas.base import AnswerModel, RequestModel

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=RequestModel)
A = TypeVar("A", bound=AnswerModel)


def with_spec_fields(
    spec: type[RequestModel],
    table: type[Model],
    *,
    required: Collection[str] = (),
    omit: Collection[str] = (),
    defaults: bool = True,
) -> Callable[[type[R]], type[R]]:
    """Class decorator: the request model gets the spec's fields but `omit`, after its own (e.g.
    appId). Fields in `required` must be sent; the others may be left out, documented with the
    column's default when `defaults` (a create) or with none (an update). Handlers read only what
    was sent: model_dump(exclude_unset=True)."""

    def derive(model: type[R]) -> type[R]:
        fields: dict[str, Any] = {}
        for field_name, info in spec.model_fields.items():
            if field_name not in omit:
                field = _request_field(field_name, info, table, field_name in required, defaults)
                fields[field_name] = (info.annotation, field)
        return _subclass(model, fields)

    return derive


def with_answer_fields(spec: type[RequestModel]) -> Callable[[type[A]], type[A]]:
    """Class decorator: the answer model gets the spec's fields with their plain types (an answer
    is not re-validated against the request rules) beside its own (id, timestamps...). A spec
    field the answer declares itself keeps the answer's shape (a write-only or computed one)."""

    def derive(model: type[A]) -> type[A]:
        own = set(model.__annotations__)
        fields = {
            name: (plain(info.annotation), ...)
            for name, info in spec.model_fields.items()
            if name not in own
        }
        return _subclass(model, fields)

    return derive


def _request_field(
    name: str, info: FieldInfo, table: type[Model], required: bool, defaults: bool
) -> FieldInfo:
    # A field with no column of its own (an action, such as linking to another app) has no
    # column limit and no documented default.
    column = table._meta.fields_map.get(name)
    metadata = list(info.metadata)
    limit = getattr(column, "max_length", None)
    if info.annotation is str and limit and not any(isinstance(m, MaxLen) for m in metadata):
        metadata.insert(0, MaxLen(limit))  # the column's limit, before the field's rules
    default: Any = PydanticUndefined if required else None
    documented = False
    if column is not None and defaults and not callable(column.default):
        documented = column.default is not None or column.null
        if documented and not required:
            default = column.default
    field = FieldInfo.merge_field_infos(info, default=default)
    field.metadata = metadata
    if default is None and not documented:
        field.json_schema_extra = _without_default(info.json_schema_extra)
    return field


def _subclass(model: type[M], fields: dict[str, Any]) -> type[M]:
    derived: type[M] = create_model(
        model.__name__, __base__=model, __doc__=model.__doc__, __module__=model.__module__, **fields
    )
    return derived


def plain(annotation: Any) -> Any:
    """The type without its Annotated constraints and validators, also inside `X | None`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return plain(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return Union[tuple(plain(arg) for arg in get_args(annotation))]  # noqa: UP007
    return annotation


def _without_default(extra: Any) -> Any:
    """A field's json_schema_extra that also drops the placeholder `"default": null`."""

    def apply(schema: dict[str, Any]) -> None:
        if isinstance(extra, dict):
            schema.update(extra)
        elif callable(extra):
            extra(schema)
        schema.pop("default", None)

    return apply
