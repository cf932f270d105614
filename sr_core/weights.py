"""Weights files: safetensors I/O, the manifest, and the released checkpoints' key layouts.

SR Studio has one weights format: safetensors (floating tensors in fp16) plus
``weights/manifest.json``, which records for each model its file, sha256, architecture
hyper-parameters, how it was trained and its scores. Users may also drop in the officially
released checkpoints (``.pth``): they are read with ``torch.load(weights_only=True)`` only, so
a malicious pickle is refused instead of executed, then unwrapped (``params_ema``,
``state_dict``, ``module.`` ...) and renamed to the canonical keys of our models by a small
table of layout converters. A file that still does not fit is refused with the keys that
differ and a hint about which hyper-parameters it was trained with.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from sr_core import settings
from sr_core.errors import CorruptWeightsError, WeightsMismatchError, WeightsNotFoundError
from sr_core.files import atomic_target
from sr_core.models.family import ModelFamily
from sr_core.registry import all_families

StateDict = dict[str, torch.Tensor]

MANIFEST_NAME = "manifest.json"
SAFETENSORS_SUFFIXES = (".safetensors",)
# ``.tar`` for ``.pth.tar``, the suffix of many releases (Swift-SRGAN's ``swift_srgan_4x.pth.tar``).
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".tar")
# Checked in this order, so BasicSR's EMA weights win over its raw ones when a file has both.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "generator", "netG")
# Added by DataParallel/DistributedDataParallel and torch.compile; never part of a model's names.
ALWAYS_STRIPPED_PREFIXES = ("module.", "_orig_mod.")
# Also a legitimate key prefix (ESRGAN's old arch), so stripped only when that makes keys recognisable.
AMBIGUOUS_PREFIX = "model."
SHOWN_KEYS = 5
HASH_CHUNK_BYTES = 1 << 20
FP16_MAX = torch.finfo(torch.float16).max


# --- reading files -------------------------------------------------------------------------


def read_state_dict(path: str | Path) -> StateDict:
    """The tensors of a weights file, unwrapped, with their original (not yet canonical) names.

    safetensors files are read directly; PyTorch checkpoints (``.pth/.pt/.ckpt/.bin/.pth.tar``)
    only with ``torch.load(weights_only=True)``, which refuses pickled code. The format is told
    by the file's first bytes, so a renamed file still reads. Raises
    :class:`WeightsNotFoundError` when the file is missing and :class:`CorruptWeightsError` when
    it is empty, truncated, unsafe or holds no state dict.
    """
    path = Path(path)
    if not path.exists():
        raise WeightsNotFoundError(f"weights file {path} does not exist; check the path or download it again")
    if path.is_dir():
        raise CorruptWeightsError(f"{path} is a folder; pass the weights file inside it")
    if path.stat().st_size == 0:
        raise CorruptWeightsError(f"weights file {path} is empty (0 bytes); download it again")
    file_format = _sniff_format(path)
    if file_format == "safetensors":
        raw: object = _load_safetensors(path)
    elif file_format == "pytorch":
        raw = _load_pytorch_checkpoint(path)
    else:
        supported = ", ".join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
        raise CorruptWeightsError(
            f"{path} is neither a safetensors file nor a PyTorch checkpoint; use one of {supported}"
        )
    try:
        return unwrap_state_dict(raw)
    except CorruptWeightsError as error:
        raise CorruptWeightsError(f"{path}: {error}") from None


def is_safetensors(path: str | Path) -> bool:
    """Whether ``path`` is a safetensors file (by its first bytes), which may carry SR Studio's metadata."""
    return _sniff_format(Path(path)) == "safetensors"


def _sniff_format(path: Path) -> str | None:
    """Which reader a file needs ("safetensors", "pytorch" or None): by its first bytes, else its extension.

    safetensors starts with the header's byte length (little-endian u64) and its JSON ``{``;
    ``torch.save`` writes a zip archive (``PK``) or, before PyTorch 1.6, a pickle (``\\x80``).
    Damaged files fall back to their extension so the matching reader can say what is wrong.
    """
    with open(path, "rb") as handle:
        head = handle.read(9)
    header_length = int.from_bytes(head[:8], "little")
    if head[8:9] == b"{" and header_length <= path.stat().st_size - 8:
        return "safetensors"
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return "pytorch"
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return "safetensors"
    return "pytorch" if suffix in PICKLE_SUFFIXES else None


def _load_safetensors(path: Path) -> StateDict:
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CorruptWeightsError(
            f"{path} is not a readable safetensors file ({error}); it may be truncated: download it again"
        ) from None


def _load_pytorch_checkpoint(path: Path) -> object:
    """``torch.load`` restricted to tensors and containers: pickled code is refused, never run.

    Arbitrary bytes can make the unpickler fail with almost any exception type (EOFError,
    KeyError, UnicodeDecodeError, struct.error ...), so every failure becomes one typed error.
    """
    try:
        with open(path, "rb") as handle:  # a handle, so torch does not pick a reader by the extension
            return torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - see docstring: corrupt pickles raise anything
        # torch says "Unsupported global: GLOBAL builtins.open", or for blocked modules (os, posix,
        # subprocess ...) "unsupported GLOBAL posix.mkdir whose module posix is blocked".
        if isinstance(error, pickle.UnpicklingError) and "unsupported global" in str(error).lower():
            raise CorruptWeightsError(
                f"{path} contains pickled code or objects other than tensors, which SR Studio never runs; "
                "on a machine you trust, load it and save its state dict as .safetensors"
            ) from None
        reason = _short_reason(error)
        raise CorruptWeightsError(
            f"{path} is not a readable PyTorch checkpoint ({reason}); it may be truncated: download it again"
        ) from None


def _short_reason(error: Exception) -> str:
    """The informative part of torch's multi-paragraph load errors, e.g. 'Unsupported operand 0'."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = next((line for line in lines if "WeightsUnpickler error" not in line and "Unsupported" in line), None)
    first_sentence = (lines[0] if lines else type(error).__name__).split(". ")[0]
    return detail or first_sentence


def unwrap_state_dict(checkpoint: object) -> StateDict:
    """The flat ``name -> tensor`` dict inside a checkpoint as the training code saved it.

    Unwraps (possibly nested) ``params_ema``/``params``/``state_dict``/``model``/``generator``/
    ``netG`` wrappers, preferring ``params_ema``, and strips the ``module.`` and ``_orig_mod.``
    prefixes of DataParallel and torch.compile. A ``model.`` prefix is stripped only when the
    stripped keys form a known layout and the original ones do not, because ESRGAN's old arch
    names its layers ``model.0`` ... ``model.10``. Raises :class:`CorruptWeightsError` when no
    state dict is found.
    """
    current = checkpoint
    while True:
        if not isinstance(current, Mapping):
            raise CorruptWeightsError(f"the file holds a {type(current).__name__}, not a state dict of tensors")
        if not current:
            raise CorruptWeightsError("the file holds no tensors")
        if all(isinstance(value, torch.Tensor) for value in current.values()):
            return _strip_prefixes({str(key): value for key, value in current.items()})
        wrapped = next((current[key] for key in WRAPPER_KEYS if isinstance(current.get(key), Mapping)), None)
        if wrapped is None:
            shown = ", ".join(repr(key) for key in list(current)[:SHOWN_KEYS])
            raise CorruptWeightsError(
                f"no state dict found in the checkpoint (top-level keys: {shown}); "
                f"expected tensors or one of the wrappers {', '.join(WRAPPER_KEYS)}"
            )
        current = wrapped


def _strip_prefixes(state_dict: StateDict) -> StateDict:
    """Remove wrapper prefixes shared by every key, repeatedly (``module._orig_mod.`` ...)."""
    while True:
        prefix = next((p for p in ALWAYS_STRIPPED_PREFIXES if _all_keys_start_with(state_dict, p)), None)
        if prefix is None and _all_keys_start_with(state_dict, AMBIGUOUS_PREFIX):
            stripped = _without_prefix(state_dict, AMBIGUOUS_PREFIX)
            known_only_when_stripped = detect_architecture(state_dict) is None and detect_architecture(stripped)
            prefix = AMBIGUOUS_PREFIX if known_only_when_stripped else None
        if prefix is None:
            return state_dict
        state_dict = _without_prefix(state_dict, prefix)


def _all_keys_start_with(state_dict: Mapping[str, torch.Tensor], prefix: str) -> bool:
    return all(key.startswith(prefix) for key in state_dict)


def _without_prefix(state_dict: StateDict, prefix: str) -> StateDict:
    return {key[len(prefix) :]: tensor for key, tensor in state_dict.items()}


# --- released key layouts -> canonical keys ------------------------------------------------


def to_canonical_keys(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """``state_dict`` renamed to our models' key names; the tensors themselves are not copied.

    Canonical and unknown layouts come back unchanged (strict loading then names the keys
    that do not fit). Applying it twice is the same as once.
    """
    layouts = (layout for family in all_families() for layout in family.key_layouts)
    layout = next((layout for layout in layouts if layout.recognises(state_dict.keys())), None)
    if layout is None:
        return dict(state_dict)
    rules = layout.rules(state_dict.keys())
    renamed: StateDict = {}
    for key, tensor in state_dict.items():
        new_key = next((rule.sub(new, key, count=1) for rule, new in rules if rule.match(key)), key)
        if new_key in renamed:
            raise WeightsMismatchError(
                f"two keys of the {layout.name} checkpoint map to {new_key!r}; the file is damaged or of another model"
            )
        renamed[new_key] = tensor
    return renamed


# --- which architecture, with which hyper-parameters ---------------------------------------


def _family_of(canonical: Mapping[str, torch.Tensor]) -> ModelFamily | None:
    """The family whose signature a canonical state dict matches (baselines have none), or None."""
    return next((family for family in all_families() if family.recognises and family.recognises(canonical)), None)


def _known_architectures() -> str:
    return ", ".join(family.architecture for family in all_families() if family.recognises)


def detect_architecture(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The registry architecture (``"rrdbnet"``, ``"srcnn"`` ...) a state dict of any known layout belongs to."""
    family = _family_of(to_canonical_keys(state_dict))
    return family.architecture if family else None


def infer_model_kwargs(state_dict: Mapping[str, torch.Tensor], architecture: str | None = None) -> dict[str, int]:
    """The constructor keyword arguments of the network that ``state_dict`` was saved from.

    Read from tensor shapes and block counts, e.g. ``{"num_feat": 64, "num_block": 23,
    "num_grow_ch": 32, ...}`` for ESRGAN, so a checkpoint trained with other hyper-parameters
    builds the matching network. Any known key layout is accepted. With ``architecture`` (the
    registry's name for the model about to be built), a file of another architecture raises
    :class:`WeightsMismatchError` instead of handing foreign kwargs to the constructor.
    """
    canonical = to_canonical_keys(state_dict)
    family = _family_of(canonical)
    if family is None or family.kwargs_from_weights is None:
        raise WeightsMismatchError(
            f"the weights do not match any SR Studio architecture (first keys: {_shown(canonical)}); "
            f"known architectures: {_known_architectures()}"
        )
    if architecture is not None and family.architecture != architecture:
        raise WeightsMismatchError(
            f"the weights hold architecture {family.architecture!r} but the model is {architecture!r}; "
            f"pick a model of architecture {family.architecture!r} or another weights file"
        )
    return {name: int(value) for name, value in family.kwargs_from_weights(canonical).items()}


# --- loading into a model ------------------------------------------------------------------


def load_into(model: nn.Module, state_dict: Mapping[str, Any]) -> None:
    """Load a checkpoint (any known layout or wrapper) into ``model`` strictly, in the model's dtypes.

    fp16 files load into fp32 models and vice versa. BN ``num_batches_tracked`` counters
    missing from the file (files saved before PyTorch 0.4.1 or without buffers) are taken from
    the model: they only matter for training with ``momentum=None``. Anything else missing,
    unexpected or mis-shaped raises :class:`WeightsMismatchError` naming the keys and, when the
    file is of a known architecture, the hyper-parameters it was trained with.
    """
    expected = model.state_dict()
    given = to_canonical_keys(unwrap_state_dict(state_dict))
    fitted = {key: _cast_like(tensor, expected.get(key)) for key, tensor in given.items()}
    for key, tensor in expected.items():
        if key.endswith("num_batches_tracked") and key not in fitted:
            fitted[key] = tensor
    problems = _mismatch_summary(expected, fitted)
    if problems:
        hint = _architecture_hint(expected, fitted)
        raise WeightsMismatchError(f"the weights do not fit {type(model).__name__}: {problems}.{hint}")
    model.load_state_dict(fitted, strict=True)


def _cast_like(tensor: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """``tensor`` in the dtype of the model's tensor (floating point only; counters stay integers)."""
    if reference is not None and tensor.is_floating_point() and reference.is_floating_point():
        return tensor.to(reference.dtype)
    return tensor


def _shown(keys: Collection[str]) -> str:
    shown = ", ".join(list(keys)[:SHOWN_KEYS])
    return shown + (", ..." if len(keys) > SHOWN_KEYS else "")


def _mismatch_summary(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> str:
    """'' when the keys and shapes agree, else counts and the first few keys of each kind."""
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    misshaped = [
        f"{key} (file {tuple(given[key].shape)}, model {tuple(tensor.shape)})"
        for key, tensor in expected.items()
        if key in given and given[key].shape != tensor.shape
    ]
    parts = [
        f"{len(keys)} {kind} key{'' if len(keys) == 1 else 's'} ({_shown(keys)})"
        for kind, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
        if keys
    ]
    return "; ".join(parts)


def _architecture_hint(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> str:
    """Which network the file is, when we can tell, compared with the model's own."""
    file_architecture, model_architecture = detect_architecture(given), detect_architecture(expected)
    if file_architecture is None:
        return " The file's key layout is not one SR Studio recognises; is it a checkpoint of another network?"
    if file_architecture != model_architecture:
        return f" The file holds architecture {file_architecture!r}; the model is {model_architecture or 'another'!r}."
    file_kwargs, model_kwargs = infer_model_kwargs(given), infer_model_kwargs(expected)
    differing = [name for name in file_kwargs if file_kwargs[name] != model_kwargs.get(name)]
    if not differing:
        return ""
    trained = ", ".join(f"{name}={file_kwargs[name]}" for name in differing)
    built = ", ".join(f"{name}={model_kwargs.get(name)}" for name in differing)
    return (
        f" The file holds architecture {file_architecture!r} with {trained}; the model has {built}:"
        " build the model with the file's values."
    )


# --- writing files -------------------------------------------------------------------------


def save_weights(
    weights: nn.Module | Mapping[str, torch.Tensor],
    path: str | Path,
    metadata: Mapping[str, Any] | None = None,
    half: bool = True,
) -> str:
    """Write a model's (or a state dict's) tensors as safetensors and return the file's sha256.

    Everything in the state dict is kept, buffers included: floating tensors (BN running
    statistics too) in fp16 when ``half``, unless a value exceeds fp16's range (that tensor
    stays in its dtype); integer counters such as ``num_batches_tracked`` as they are.
    ``metadata`` goes into the safetensors header: strings as they are, other values
    JSON-encoded. The write is atomic, so a crash never leaves a half-written file behind.
    """
    path = Path(path)
    state_dict = weights.state_dict() if isinstance(weights, nn.Module) else weights
    tensors = {key: _storable(tensor, half) for key, tensor in state_dict.items()}
    header = {key: value if isinstance(value, str) else json.dumps(value) for key, value in (metadata or {}).items()}
    if _holds(path, tensors, header):
        return sha256_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as temporary:
        save_file(tensors, temporary, metadata=header or None)
        os.chmod(temporary, SHARED_FILE_MODE)
    return sha256_file(path)


def _holds(path: Path, tensors: Mapping[str, torch.Tensor], header: Mapping[str, str]) -> bool:
    """Whether the safetensors file at ``path`` already holds exactly ``tensors`` and ``header``.

    Why: safetensors writes the header's metadata in a different order in each process, so the same
    weights written again would get other bytes and another sha256, and a re-bundle or re-publish of
    unchanged weights would store a new copy of every file in git. Unchanged weights keep their file.
    """
    try:
        with safe_open(path, "pt") as existing:
            if (existing.metadata() or {}) != dict(header) or set(existing.keys()) != set(tensors):
                return False
            for key, tensor in tensors.items():
                stored = existing.get_tensor(key)
                if stored.dtype != tensor.dtype or not torch.equal(stored, tensor):
                    return False
            return True
    except (OSError, SafetensorError):
        return False


# safetensors creates files readable by their owner only; weights are shared (the Docker image's
# user, other accounts, a web server), so they get a plain file's permissions.
SHARED_FILE_MODE = 0o644


def _storable(tensor: torch.Tensor, half: bool) -> torch.Tensor:
    """A detached, contiguous CPU copy that shares no memory (safetensors refuses shared storage)."""
    tensor = tensor.detach().cpu()
    if half and tensor.is_floating_point() and _fits_fp16(tensor):
        tensor = tensor.to(torch.float16)
    return tensor.contiguous().clone()


def _fits_fp16(tensor: torch.Tensor) -> bool:
    """True when casting to fp16 overflows no value (a huge BN running_var would become inf)."""
    return tensor.numel() == 0 or bool(tensor.float().abs().max() <= FP16_MAX)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file's header (JSON-encoded values stay strings)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise CorruptWeightsError(f"{path} is not a readable safetensors file ({error}); download it again") from None


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks so large checkpoints need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# --- the manifest --------------------------------------------------------------------------


@dataclass
class WeightsEntry:
    """One bundled weights file: ``file`` is relative to the weights folder.

    ``arch_kwargs`` are the constructor arguments the file fits (``{"num_block": 23}``),
    ``training`` how it was obtained (dataset, steps, source URL of a converted release) and
    ``scores`` its evaluation results (``{"set5_psnr": 30.4}``). Optionally the same file (same
    sha256) is published on the Hugging Face Hub as ``filename`` in model repo ``repo_id`` at
    ``revision`` (a commit hash pins it; default ``main``): see :mod:`sr_core.hub`.
    """

    model: str
    file: str
    sha256: str
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    repo_id: str = ""
    filename: str = ""
    revision: str = ""


_ENTRY_FIELDS = {"file": str, "sha256": str, "arch_kwargs": dict, "training": dict, "scores": dict}
# Optional: where the file is published on the Hugging Face Hub (repo_id and filename go together).
_HUB_FIELDS = ("repo_id", "filename", "revision")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def weights_dir(override: str | Path | None = None) -> Path:
    """The weights folder: ``override``, else ``$SR_STUDIO_WEIGHTS_DIR``, else the repository's ``weights/``.

    The environment is read on every call so tests and deployments can point elsewhere at run time.
    """
    if override is not None:
        return Path(override)
    return settings.weights_dir()


_resolve_weights_dir = weights_dir  # the functions below name their argument ``weights_dir``, as callers expect


def read_manifest(weights_dir: str | Path | None = None) -> dict[str, WeightsEntry]:
    """Model name -> entry of ``manifest.json``; empty when there is no manifest yet.

    Raises :class:`CorruptWeightsError` naming the problem when the file is not valid JSON or
    an entry lacks a field, has a field of the wrong type or a file path outside the folder.
    """
    manifest_path = _resolve_weights_dir(weights_dir) / MANIFEST_NAME
    if not manifest_path.exists():
        return {}
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptWeightsError(
            f"{manifest_path} is not valid JSON ({error}); fix it or restore it from git"
        ) from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise CorruptWeightsError(f'{manifest_path} must be an object {{"models": {{name: entry}}}}')
    return {name: _entry_from_json(name, fields, manifest_path) for name, fields in models.items()}


def _entry_from_json(name: str, fields: object, manifest_path: Path) -> WeightsEntry:
    if not isinstance(fields, dict):
        raise CorruptWeightsError(f"{manifest_path}: entry {name!r} must be an object")
    unknown = set(fields) - set(_ENTRY_FIELDS) - set(_HUB_FIELDS)
    if unknown:
        raise CorruptWeightsError(f"{manifest_path}: entry {name!r} has unknown fields {sorted(unknown)}")
    for field_name, field_type in _ENTRY_FIELDS.items():
        value = fields.get(field_name, field_type())
        if not isinstance(value, field_type) or (field_type is str and not value):
            kind = "a non-empty string" if field_type is str else "an object"
            raise CorruptWeightsError(f"{manifest_path}: entry {name!r} needs {field_name!r} as {kind}")
    if not _SHA256_HEX.match(fields["sha256"]):
        raise CorruptWeightsError(f"{manifest_path}: entry {name!r} has a sha256 that is not 64 lowercase hex digits")
    file = Path(fields["file"])
    if file.is_absolute() or ".." in file.parts:
        raise CorruptWeightsError(f"{manifest_path}: entry {name!r} must name a file inside the weights folder")
    if any(not isinstance(fields.get(key, ""), str) for key in _HUB_FIELDS):
        raise CorruptWeightsError(f"{manifest_path}: entry {name!r} needs {', '.join(_HUB_FIELDS)} as strings")
    if bool(fields.get("repo_id")) != bool(fields.get("filename")):
        raise CorruptWeightsError(
            f"{manifest_path}: entry {name!r} needs both 'repo_id' and 'filename' to name a Hub file"
        )
    return WeightsEntry(model=name, **fields)


def write_manifest(
    entries: Mapping[str, WeightsEntry] | Collection[WeightsEntry], weights_dir: str | Path | None = None
) -> Path:
    """Write ``manifest.json`` (sorted by model, atomically) and return its path."""
    listed = entries.values() if isinstance(entries, Mapping) else entries
    models = {
        entry.model: {k: v for k, v in asdict(entry).items() if k != "model" and (v or k not in _HUB_FIELDS)}
        for entry in listed
    }
    manifest_path = _resolve_weights_dir(weights_dir) / MANIFEST_NAME
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(manifest_path) as temporary:
        document = {"models": dict(sorted(models.items()))}
        Path(temporary).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return manifest_path


def find_weights(model_name: str, weights_dir: str | Path | None = None) -> WeightsEntry | None:
    """The manifest entry of ``model_name`` when its file is present, else None (weights not bundled)."""
    entry = read_manifest(weights_dir).get(model_name)
    if entry is None or not (_resolve_weights_dir(weights_dir) / entry.file).is_file():
        return None
    return entry


def parent_stages(weights_file: Path) -> list[dict[str, Any]]:
    """The stages the manifest beside ``weights_file`` lists for exactly that file (same sha256).

    A file the manifest does not list (someone's own, or one replaced since) is named as one stage,
    ``{"init_from": name}``, since its history is not here. A run records this when it starts.
    """
    if weights_file.is_file():
        sha256 = sha256_file(weights_file)
        for entry in read_manifest(weights_file.parent).values():
            if entry.file == weights_file.name and entry.sha256 == sha256 and entry.training.get("stages"):
                return list(entry.training["stages"])
    return [{"init_from": weights_file.name}]


def verify_sha256(entry: WeightsEntry, weights_dir: str | Path | None = None) -> None:
    """Raise :class:`CorruptWeightsError` unless the entry's file has the sha256 the manifest records."""
    path = _resolve_weights_dir(weights_dir) / entry.file
    if not path.is_file():
        raise WeightsNotFoundError(
            f"weights file {path} of model {entry.model!r} is missing; download or train it again"
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise CorruptWeightsError(
            f"{path} has sha256 {actual[:12]}..., the manifest expects {entry.sha256[:12]}...; "
            "the file is damaged or was replaced: download it again or update the manifest"
        )
