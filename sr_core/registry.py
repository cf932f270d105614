"""The one table of model names -> builders, collected from the model families.

Everything that builds a model by name (CLI, app, trainer, evaluation) goes through
:func:`build_model`; nothing else switches on model names. Each entry has one ``kind``
(baseline, float, int8, discriminator). The entries come from the ``FAMILIES`` of each model
file in :mod:`sr_core.models` (:mod:`sr_core.models.family`): adding an architecture means
adding its file, and this table picks it up.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import replace
from typing import Any

from torch import nn

from sr_core import models
from sr_core.errors import UnknownModelError
from sr_core.models.family import ModelFamily, ModelSpec

INT8_SUFFIX = "-int8"


@functools.cache
def all_families() -> tuple[ModelFamily, ...]:
    """Every model family of :mod:`sr_core.models`, in the order the papers appeared."""
    modules = [
        importlib.import_module(f"{models.__name__}.{info.name}") for info in pkgutil.iter_modules(models.__path__)
    ]
    families = [family for module in modules for family in getattr(module, "FAMILIES", ())]
    return tuple(sorted(families, key=lambda family: family.year))


def _int8_variant(spec: ModelSpec) -> ModelSpec:
    """``spec``'s int8 twin (``swiftsrgan-int8``): same network, weights and size, int8 on CPU."""
    return replace(
        spec,
        name=spec.name + INT8_SUFFIX,
        description=f"{spec.description}; int8, data-free calibrated (CPU)",
        kind="int8",
        discriminator=None,
        quantized_from=spec.name,
        int8_variant=False,
    )


@functools.cache
def _specs() -> dict[str, ModelSpec]:
    """Baselines and float models, then their int8 variants, then the discriminators, by name."""
    declared = [spec for family in all_families() for spec in family.specs]
    ordered = (
        [spec for spec in declared if spec.kind in ("baseline", "float")]
        + [_int8_variant(spec) for spec in declared if spec.int8_variant]
        + [spec for spec in declared if spec.kind == "discriminator"]
    )
    return {spec.name: spec for spec in ordered}


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an :class:`UnknownModelError` lists the valid names."""
    try:
        return _specs()[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(sr_model_names())}") from None


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build the model registered as ``name`` (random or parameter-free weights, eval mode)."""
    return get_spec(name).build(**overrides)


def all_specs() -> tuple[ModelSpec, ...]:
    """Every registered model, SR generators first, in the order the papers appeared."""
    return tuple(_specs().values())


def sr_model_names() -> list[str]:
    """Names of the models that upscale images (discriminators excluded)."""
    return [spec.name for spec in _specs().values() if spec.upscales]
