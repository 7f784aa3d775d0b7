"""One alignment loss term of a recipe, beside the objective registry it is checked against."""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError, did_you_mean
from .conversion import _convert
from .registry import get_objective


@dataclass
class LossConfig:
    """One alignment loss term: ``weight(progress) · loss``; ``name`` picks a registered objective
    (:mod:`xlingual.objectives`), whose own settings (``params``) are written beside ``name`` in a recipe."""

    name: str
    weight: float = 1.0
    schedule: Literal["constant", "linear", "dann"] = "constant"
    """constant; linear warm-up over ``warmup_ratio`` of training; or DANN's 2/(1+exp(-10p)) − 1."""
    warmup_ratio: float = 0.1
    params: Any = None
    """The objective's ``Params`` dataclass (a mapping or ``None`` for its defaults is converted)."""

    def validate(self, where: str) -> LossConfig:
        """Check the term and convert ``params`` to the objective's dataclass; returns a normalised copy."""
        cls = get_objective(self.name, f"{where}.name")
        if isinstance(self.params, cls.Params):
            params = copy.deepcopy(self.params)
        elif self.params is None or isinstance(self.params, dict):
            params = _convert(cls.Params, dict(self.params or {}), where)
        else:
            raise ConfigError(f"{where}.params: expected {cls.Params.__name__} or a mapping of its settings, got "
                              f"{type(self.params).__name__}")
        checked = _convert(LossConfig, {"name": self.name, "weight": self.weight, "schedule": self.schedule,
                                        "warmup_ratio": self.warmup_ratio}, where)
        checked.params = params
        if checked.weight < 0:
            raise ConfigError(f"{where}.weight: must be >= 0, got {checked.weight}")
        if not 0.0 <= checked.warmup_ratio <= 1.0:
            raise ConfigError(f"{where}.warmup_ratio: must be in [0, 1], got {checked.warmup_ratio}")
        cls.check(checked, where)
        return checked

    def __config_plain__(self) -> dict[str, Any]:
        return self.to_dict()

    @classmethod
    def __config_convert__(cls, value: Any, key: str) -> LossConfig:
        return _convert_loss(value, key)

    def to_dict(self) -> dict[str, Any]:
        """Flat, as in a recipe: the common keys, then the objective's settings."""
        params = self.params if not dataclasses.is_dataclass(self.params) else dataclasses.asdict(self.params)
        return {"name": self.name, "weight": self.weight, "schedule": self.schedule,
                "warmup_ratio": self.warmup_ratio, **(params or {})}


def _convert_loss(value: Any, key: str) -> LossConfig:
    """A recipe's loss mapping: the common keys, and the objective's settings flat beside them (or under ``params``)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of settings such as {{name: ...}}, got "
                          f"{type(value).__name__} {value!r}")
    if "name" not in value:
        raise ConfigError(f"{key}.name: missing; every loss names a registered objective")
    cls = get_objective(value["name"], f"{key}.name")
    common = [f.name for f in dataclasses.fields(LossConfig) if f.name != "params"]
    own = [f.name for f in dataclasses.fields(cls.Params)]
    nested = value.get("params")
    if nested is not None and not isinstance(nested, dict):
        raise ConfigError(f"{key}.params: expected a mapping, got {type(nested).__name__} {nested!r}")
    for name in value:
        if name not in (*common, *own, "params"):
            raise ConfigError(f"unknown key '{key}.{name}'{did_you_mean(name, [*common, *own])}; valid keys for "
                              f"'{cls.name}': {', '.join([*common, *own])}")
    params = {**{k: v for k, v in value.items() if k in own}, **(nested or {})}
    hints = typing.get_type_hints(LossConfig)
    loss = LossConfig(**{k: _convert(hints[k], value[k], f"{key}.{k}") for k in common if k in value})
    loss.params = _convert(cls.Params, params, key)
    return loss
