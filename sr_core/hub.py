"""Where a model's weights come from: the bundled weights folder, or optionally the Hugging Face Hub.

A manifest entry (:class:`sr_core.weights.WeightsEntry`) always names a file in the weights
folder and its sha256; it may also name the same file on the Hub (``repo_id``, ``filename``,
``revision``). With ``SR_STUDIO_WEIGHTS_SOURCE=bundled`` (the default) only the folder is used
and the network never is. With ``hub``, an entry naming a repo is fetched with
``hf_hub_download``, which keeps it in the Hugging Face cache, and checked against the
manifest's sha256, so a Space can ship without its weights and still run exactly the files we
published. When the Hub cannot be reached, or ``HF_HUB_OFFLINE=1`` forbids trying, the cached
copy is used, else the bundled file, and a warning says which; with neither, the error says
what to do. A file whose sha256 differs is never used, whichever source it came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

from sr_core import settings
from sr_core.errors import CorruptWeightsError, WeightsNotFoundError
from sr_core.weights import WeightsEntry, read_manifest, sha256_file, verify_sha256, weights_dir

log = logging.getLogger(__name__)

BUNDLED, HUB, CACHE = "bundled", "hub", "cache"
DEFAULT_REVISION = "main"


@dataclass(frozen=True)
class LocatedWeights:
    """A verified weights file: its manifest entry, path, origin (bundled / hub / cache) and what to tell users."""

    entry: WeightsEntry
    path: Path
    origin: str
    note: str | None = None


def names_hub_file(entry: WeightsEntry) -> bool:
    """True when the manifest entry says where the file is published on the Hub."""
    return bool(entry.repo_id and entry.filename)


def uses_hub(entry: WeightsEntry) -> bool:
    """True when this entry's weights should come from the Hub (the setting says so and the entry names a file)."""
    return settings.weights_source() == HUB and names_hub_file(entry)


def is_offline() -> bool:
    """Whether huggingface_hub was told never to contact the Hub (``HF_HUB_OFFLINE=1``)."""
    return constants.is_offline_mode()


def locate_weights(model_name: str, folder: str | Path | None = None) -> LocatedWeights | None:
    """The verified weights file of ``model_name``, or None when the manifest has no usable entry for it.

    Bundled-only entries (and every entry under ``SR_STUDIO_WEIGHTS_SOURCE=bundled``) give their
    file in the weights folder, or None when it is absent. Hub entries are downloaded or read from
    the cache; if that fails the bundled file is used with a logged warning; with neither,
    :class:`WeightsNotFoundError` explains why. A sha256 mismatch raises :class:`CorruptWeightsError`.
    """
    folder = weights_dir(folder)
    entry = read_manifest(folder).get(model_name)
    if entry is None:
        return None
    bundled = folder / entry.file
    if not uses_hub(entry):
        if not bundled.is_file():
            return None
        verify_sha256(entry, folder)
        return LocatedWeights(entry, bundled, BUNDLED)
    try:
        return _from_hub(entry)
    except WeightsNotFoundError as unavailable:
        if not bundled.is_file():
            raise
        verify_sha256(entry, folder)
        note = f"{unavailable} Using the bundled copy {bundled} instead (same sha256)."
        log.warning(note)
        return LocatedWeights(entry, bundled, BUNDLED, note)


def weights_available(model_name: str, folder: str | Path | None = None) -> bool:
    """Whether ``model_name`` has weights it can load now, without touching the network.

    A Hub entry counts when online (the download happens at first use), or offline when the
    cache or the weights folder holds its file.
    """
    folder = weights_dir(folder)
    entry = read_manifest(folder).get(model_name)
    if entry is None:
        return False
    if (folder / entry.file).is_file():
        return True
    return uses_hub(entry) and (not is_offline() or cached_file(entry) is not None)


def cached_file(entry: WeightsEntry) -> Path | None:
    """The entry's file in the Hugging Face cache, or None; reads the cache folder only."""
    found = try_to_load_from_cache(entry.repo_id, entry.filename, revision=entry.revision or DEFAULT_REVISION)
    return Path(found) if isinstance(found, str) else None


def _from_hub(entry: WeightsEntry) -> LocatedWeights:
    """Download (or take from the cache) the entry's Hub file and check its sha256.

    Raises :class:`WeightsNotFoundError` when the file can be had neither way, and
    :class:`CorruptWeightsError` when what came has another sha256.
    """
    revision = entry.revision or DEFAULT_REVISION
    where = f"{entry.repo_id}/{entry.filename} at revision {revision}"
    offline = is_offline()
    try:
        path = Path(
            hf_hub_download(
                entry.repo_id, entry.filename, revision=revision, local_files_only=offline, token=settings.hf_token()
            )
        )
    # A fetch fails with the Hub's errors, the HTTP client's or the file system's: all mean "not available now".
    except Exception as error:  # noqa: BLE001
        reason = (
            "HF_HUB_OFFLINE=1 forbids downloading it and it is not in the Hugging Face cache"
            if offline
            else f"it could not be downloaded ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        )
        raise WeightsNotFoundError(
            f"weights of {entry.model!r} ({where}) are unavailable: {reason}. Connect once without HF_HUB_OFFLINE "
            f"to cache them, or put the file in the weights folder as {entry.file}."
        ) from None
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise CorruptWeightsError(
            f"{where} has sha256 {actual[:12]}..., the manifest expects {entry.sha256[:12]}...; "
            f"the published file changed or the cached copy {path} is damaged: delete it or pin the revision"
        )
    note = f"offline: using the cached copy of {where}" if offline else None
    if note:
        log.warning(note)
    return LocatedWeights(entry, path, CACHE if offline else HUB, note)
