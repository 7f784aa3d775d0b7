"""The engine under results.json's records: how a dataclass becomes JSON and back, keeping what it read.

Records are dataclasses. ``OPTIONAL`` fields are written only when set; a record that remembers the keys it was
read with (``PRESENCE``) writes back exactly those, ``null`` included; ``UNKNOWN_KEYS`` keeps the keys another
version wrote. :class:`Record` is the base of the records inside results.json.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import XlingualError
from ..io import json_ready


class ResultsError(XlingualError, ValueError):
    """A results.json that cannot be read: malformed, incomplete, or from a newer schema."""


OPTIONAL = {"omit_if_none": True}
"""Field metadata: the record is written only when set (only some runs have it)."""
PRESENCE = {"presence": True}
"""Field metadata: the keys a record was read with (not written). A ``None`` field is written back when its key
was read, so reading and writing a file gives it back as it was: ``null`` stays, an absent key stays absent."""
UNKNOWN_KEYS = {"unknown_keys": True}
"""Field metadata: the mapping holds the keys of the record this xlingual does not know; they are kept as read
and written back beside the known ones, so reading and writing a file never drops what another version wrote."""


def _plain(value: Any) -> Any:
    """JSON data of a schema object: dataclasses as mappings, optional records left out when unset."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        read = next((getattr(value, f.name) for f in dataclasses.fields(value) if f.metadata.get("presence")), None)
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.metadata.get("unknown_keys") and not f.metadata.get("presence")
                and (getattr(value, f.name) is not None or (f.name in read if read is not None
                                                            else not f.metadata.get("omit_if_none")))}
        for f in dataclasses.fields(value):
            if f.metadata.get("unknown_keys"):
                data.update({k: _plain(v) for k, v in getattr(value, f.name).items() if k not in data})
        return data
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return json_ready(value)


@dataclass(kw_only=True)
class Record:
    """A record inside results.json: its own fields, plus what another version wrote (``extra``) and the keys it
    was read with (``read_keys``, so it writes back exactly those). Mapping-style reading
    (``results.training["global_step"]``), as these records were plain dicts before they were typed, is still
    answered, with a DeprecationWarning naming the attribute."""

    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)

    def __getitem__(self, key: str) -> Any:
        known = key in {f.name for f in dataclasses.fields(self)} and key not in ("extra", "read_keys")
        warnings.warn(f"{type(self).__name__}[{key!r}] is deprecated: read the attribute "
                      f"(.{key if known else 'extra[' + repr(key) + ']'})", DeprecationWarning, stacklevel=2)
        value = getattr(self, key) if known else self.extra.get(key)
        if value is None and not known:
            raise KeyError(key)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The record as results.json holds it."""
        return _plain(self)


class Converts:
    """A dataclass whose record fields (``_records``: name → record class) become records when set as mappings,
    in the constructor or after: writers build them as plain dicts, every reader gets the same types."""

    _records: typing.ClassVar[dict[str, type]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        record = self._records.get(name)
        if record is not None and isinstance(value, dict):
            value = _build(record, value, f"results.json: {name}")
        super().__setattr__(name, value)


def _build(cls: type, data: Any, where: str) -> Any:
    """A dataclass from its JSON mapping: nested dataclasses (and mappings of them) are built, other values are
    kept exactly as read; unknown keys are ignored (or kept in an ``UNKNOWN_KEYS`` field), a missing required
    key is a ResultsError."""
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    known = {item.name for item in dataclasses.fields(cls) if not item.metadata.get("presence")}
    for item in dataclasses.fields(cls):
        key = f"{where}: {item.name}" if ": " not in where else f"{where}.{item.name}"
        if item.metadata.get("presence"):
            kwargs[item.name] = frozenset(data)
            continue
        if item.metadata.get("unknown_keys"):
            kwargs[item.name] = {k: v for k, v in data.items() if k not in known}
            continue
        if item.name not in data:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ResultsError(f"{key}: missing (not a results.json written by xlingual train?)")
            continue
        kwargs[item.name] = _value(hints[item.name], data[item.name], key)
    return cls(**kwargs)


def _value(tp: Any, value: Any, key: str) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # ``X | None``: None, or build the X
        if value is None and type(None) in typing.get_args(tp):
            return None
        tp = next((arg for arg in typing.get_args(tp) if arg is not type(None)), tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if typing.get_origin(tp) is dict:
        _, item = typing.get_args(tp)
        if dataclasses.is_dataclass(item):
            if not isinstance(value, dict):
                raise ResultsError(f"{key}: expected a JSON object, got {type(value).__name__}")
            return {name: _build(item, sub, f"{key}.{name}") for name, sub in value.items()}
    return value
