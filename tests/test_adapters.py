"""quart-schema builds one pydantic TypeAdapter per type, not one per request (api/adapters.py)."""

from __future__ import annotations

from quart_schema import conversion
from quart_schema.conversion import model_dump, model_load

from api.adapters import reuse_adapters
from api.schemas.base import Envelope, Liveness


def test_quart_schema_reuses_one_adapter_per_type() -> None:
    reuse_adapters()
    answer = Envelope[Liveness]
    make = vars(conversion)["TypeAdapter"]  # what quart-schema's conversions call
    assert make(answer) is make(answer)
    assert make(dict) is make(dict)
    # and the conversions quart-schema runs still give what they gave
    loaded = model_load(
        {"message": "m", "data": {"status": "ok"}}, answer, ValueError, preference=None
    )
    assert model_dump(loaded) == {
        "success": True,
        "message": "m",
        "data": {"status": "ok"},
        "error": None,
    }
