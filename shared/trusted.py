"""Pydantic models from values that are valid already: the hot paths' constructor.

``trusted(cls, fields)`` makes what ``cls.model_construct(**fields)`` makes when every field is
given, without its Python loop over the fields (about five times the cost): the event store
decodes and builds hundreds of thousands of events in a bulk freeze, and a what-if rebuilds a
million claims. Only for models without extra fields, private attributes or a post-init hook
(``check`` refuses the others at import).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``fields`` (every one of its fields, each valid)."""
    model = cls.__new__(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(_names(cls)))  # a set: model_copy adds to it
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


@cache
def _names(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(cls.model_fields)


def check(cls: type[BaseModel]) -> None:
    """Refuse (at import) a model ``trusted`` would build wrongly."""
    if (
        cls.__pydantic_post_init__
        or cls.__private_attributes__
        or cls.model_config.get("extra") == "allow"
    ):
        raise TypeError(f"{cls.__name__} has a post-init hook, private or extra fields")
