"""Every environment setting of SR Studio, in one table: its variable, default and meaning, and its reader.

A deployment (a Hugging Face Space, ``docker run -e``, a shell) configures SR Studio only through
these variables, so this module is the one place to look them up; the README's "Settings" table
is :func:`markdown_table` of :data:`SETTINGS` (a test keeps the two equal). Values are read when
asked for, not at import, so tests and long-lived processes see changes. A malformed value raises
:class:`SettingsError` naming the variable and an example, rather than running with a value
nobody chose.

``python -m sr_core.settings`` prints the effective settings (secrets hidden), creates the data
folder and exits 2 with one line on a malformed value or an unwritable folder: the container
runs it before the app, so a misconfigured Space fails at start with a message, not at the
first upload with a traceback.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sr_core.errors import SettingsError

APP_ROOT = Path(__file__).resolve().parents[1]
"""The folder of ``app.py``: path defaults are inside it, whatever the working directory."""

DEFAULT_PIXEL_CAP = 4096 * 4096
"""Most input pixels (width * height) we accept: 16.8 MP, a 4096x4096 image, upscaled x4 to 268 MP."""

WEIGHTS_SOURCES = ("bundled", "hub")
_FILE_SIZE = re.compile(r"^\d+(\.\d+)?\s*(b|kb|mb|gb)?$", re.IGNORECASE)
_BYTES_PER_UNIT = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HIDDEN = "(set, hidden)"


@dataclass(frozen=True)
class Setting:
    """One environment variable: ``default`` as the README shows it, ``meaning`` one line on what it changes.

    ``secret`` values are never printed; ``external`` ones are read by Gradio or huggingface_hub
    themselves (listed so the table is complete).
    """

    name: str
    default: str
    meaning: str
    secret: bool = False
    external: bool = False

    def raw(self) -> str | None:
        """The variable's value without surrounding blanks; None when unset or blank (the default applies)."""
        return os.environ.get(self.name, "").strip() or None


DATA_DIR = Setting(
    "SR_STUDIO_DATA_DIR",
    "`data/` beside `app.py`",
    "Folder for what the app keeps (MOS studies and ratings); `/data` on a Space with persistent storage",
)
PIXEL_CAP = Setting(
    "SR_STUDIO_PIXEL_CAP",
    f"{DEFAULT_PIXEL_CAP} (4096x4096)",
    "Largest input in pixels (width x height); larger uploads are refused before decoding",
)
QUEUE_SIZE = Setting(
    "SR_STUDIO_QUEUE_SIZE", "64", "Most requests waiting in the app's queue; more are told the app is busy"
)
CONCURRENCY = Setting("SR_STUDIO_CONCURRENCY", "1", "How many model runs share the host at once (all tabs together)")
MAX_FILE_SIZE = Setting("SR_STUDIO_MAX_FILE_SIZE", "25mb", "Largest upload, e.g. `10mb`, `500kb` or bytes")
WEIGHTS_DIR = Setting(
    "SR_STUDIO_WEIGHTS_DIR", "`weights/` beside `app.py`", "Folder of the bundled weights and their `manifest.json`"
)
WEIGHTS_SOURCE = Setting(
    "SR_STUDIO_WEIGHTS_SOURCE",
    "bundled",
    "`bundled`: only the weights folder, never the network; `hub`: manifest entries with a "
    "`repo_id` are fetched from the Hugging Face Hub (sha256-checked, cached), offline from "
    "the cache or the bundled file",
)
MOS_DIR = Setting(
    "SR_STUDIO_MOS_DIR", "`$SR_STUDIO_DATA_DIR/mos`", "Where MOS studies keep their stimuli and rating CSVs"
)
MOS_STUDY = Setting(
    "SR_STUDIO_MOS_STUDY", "`assets/` beside `app.py`", "Folder of HR images the Rate tab's MOS study is built from"
)
HF_TOKEN = Setting(
    "HF_TOKEN",
    "unset",
    "Hugging Face token (a Space secret): pushes the MOS CSV to the dataset repo, reads private weights",
    secret=True,
)
DATASET_REPO = Setting(
    "SR_STUDIO_DATASET_REPO",
    "unset",
    "Hugging Face dataset repo (`owner/name`) the MOS ratings are pushed to when `HF_TOKEN` is set",
)
CPU_BF16 = Setting(
    "SR_STUDIO_CPU_BF16",
    "1",
    "`0` keeps CPU inference in float32 on CPUs with native bfloat16 (bf16 is 2-4x faster, about one 8-bit level off)",
)
CPU_KEEP_FREED = Setting(
    "SR_STUDIO_CPU_KEEP_FREED",
    "1",
    "`0` lets glibc hand freed blocks back to the kernel at once, as it does by default; `1` "
    "keeps them for the next layer (CPU inference 2-2.5x faster; resident memory stays at its peak)",
)
GAN_RUNS = Setting("SR_STUDIO_GAN_RUNS", "`runs/gan`", "Folder of GAN runs the GAN Lab tab shows")
USER_MODELS_DIR = Setting(
    "SR_STUDIO_USER_MODELS_DIR",
    "unset",
    "Folder of your own model files (`.safetensors`/`.pth` of any architecture spandrel "
    "recognises), listed at start-up beside the bundled models",
)
USER_MODEL_MAX_SIZE = Setting(
    "SR_STUDIO_USER_MODEL_MAX_SIZE",
    "512mb",
    "Largest model file of your own that is read (upload, `--weights`, the folder above); "
    "larger ones are refused unread",
)
GRADIO_SERVER_NAME = Setting(
    "GRADIO_SERVER_NAME",
    "127.0.0.1",
    "Address the app listens on (`0.0.0.0` in the container); read by Gradio",
    external=True,
)
GRADIO_SERVER_PORT = Setting("GRADIO_SERVER_PORT", "7860", "Port the app listens on; read by Gradio", external=True)
HF_HUB_OFFLINE = Setting(
    "HF_HUB_OFFLINE",
    "unset",
    "`1`: never contact the Hub (hub weights come from the cache or the weights folder); "
    "read by huggingface_hub at start",
    external=True,
)
HF_HOME = Setting(
    "HF_HOME",
    "`~/.cache/huggingface`",
    "Where huggingface_hub caches downloaded weights; read by huggingface_hub at start",
    external=True,
)

SETTINGS: tuple[Setting, ...] = (
    DATA_DIR,
    PIXEL_CAP,
    QUEUE_SIZE,
    CONCURRENCY,
    MAX_FILE_SIZE,
    WEIGHTS_DIR,
    WEIGHTS_SOURCE,
    MOS_DIR,
    MOS_STUDY,
    HF_TOKEN,
    DATASET_REPO,
    CPU_BF16,
    CPU_KEEP_FREED,
    GAN_RUNS,
    USER_MODELS_DIR,
    USER_MODEL_MAX_SIZE,
    GRADIO_SERVER_NAME,
    GRADIO_SERVER_PORT,
    HF_HUB_OFFLINE,
    HF_HOME,
)


# --- readers --------------------------------------------------------------------------------


def data_dir() -> Path:
    """The folder for what the app keeps between restarts."""
    return _path(DATA_DIR, APP_ROOT / "data")


def pixel_cap() -> int:
    """The most input pixels an image may have (a positive integer)."""
    return _positive_int(PIXEL_CAP, DEFAULT_PIXEL_CAP, example="1048576 (1024x1024)", unit="number of pixels")


def queue_size() -> int:
    """The most requests the app's queue holds (Gradio's ``max_size``)."""
    return _positive_int(QUEUE_SIZE, 64, example="64")


def concurrency() -> int:
    """How many model runs the app allows at once."""
    return _positive_int(CONCURRENCY, 1, example="2")


def max_file_size() -> str:
    """The upload limit in Gradio's notation (``"25mb"``, or bytes)."""
    text = MAX_FILE_SIZE.raw() or MAX_FILE_SIZE.default
    if not _FILE_SIZE.match(text):
        raise SettingsError(f"{MAX_FILE_SIZE.name} must be a size such as 25mb, 500kb or 1048576, not {text!r}")
    return text.replace(" ", "").lower()


def weights_dir() -> Path:
    """The folder of the bundled weights and their manifest."""
    return _path(WEIGHTS_DIR, APP_ROOT / "weights")


def weights_source() -> str:
    """``"bundled"`` (never the network) or ``"hub"`` (entries naming a repo come from the Hugging Face Hub)."""
    text = (WEIGHTS_SOURCE.raw() or WEIGHTS_SOURCE.default).lower()
    if text not in WEIGHTS_SOURCES:
        raise SettingsError(f"{WEIGHTS_SOURCE.name} must be one of {', '.join(WEIGHTS_SOURCES)}, not {text!r}")
    return text


def mos_dir() -> Path:
    """Where MOS studies keep stimuli and ratings: ``$SR_STUDIO_MOS_DIR``, else ``mos/`` in the data folder."""
    return _path(MOS_DIR, data_dir() / "mos")


def mos_study() -> Path:
    """The folder of HR images the app's MOS study is built from."""
    return _path(MOS_STUDY, APP_ROOT / "assets")


def hf_token() -> str | None:
    """The Hugging Face token, or None when unset (nothing is pushed, only public weights are read)."""
    return HF_TOKEN.raw()


def dataset_repo() -> str | None:
    """The dataset repo id (``owner/name``) MOS ratings are pushed to, or None when unset."""
    text = DATASET_REPO.raw()
    if text is not None and not _REPO_ID.match(text):
        raise SettingsError(f"{DATASET_REPO.name} must be a repo id such as sr-studio/mos-ratings, not {text!r}")
    return text


def cpu_bf16() -> bool:
    """Whether CPU inference may use bfloat16 where the CPU computes it natively (``0`` forbids it)."""
    return _switch(CPU_BF16)


def cpu_keep_freed() -> bool:
    """Whether CPU inference keeps freed memory for reuse (:func:`sr_core.device.keep_freed_cpu_memory`)."""
    return _switch(CPU_KEEP_FREED)


def _switch(setting: Setting) -> bool:
    """A 0/1 setting as a bool."""
    text = setting.raw() or setting.default
    if text not in ("0", "1"):
        raise SettingsError(f"{setting.name} must be 0 or 1, not {text!r}")
    return text == "1"


def gan_runs_dir() -> Path:
    """The folder of GAN runs the GAN Lab shows (relative paths are from the working directory)."""
    return _path(GAN_RUNS, Path("runs/gan"))


def user_models_dir() -> Path | None:
    """The folder of the user's own model files, or None when unset (no folder is listed)."""
    text = USER_MODELS_DIR.raw()
    return Path(text).expanduser() if text else None


def user_model_max_bytes() -> int:
    """The largest user model file read, in bytes: a cap checked before reading, so a huge upload costs nothing."""
    text = (USER_MODEL_MAX_SIZE.raw() or USER_MODEL_MAX_SIZE.default).replace(" ", "").lower()
    match = _FILE_SIZE.match(text)
    unit = (match.group(2) or "") if match else ""
    size = int(float(text[: len(text) - len(unit)]) * _BYTES_PER_UNIT[unit or "b"]) if match else 0
    if size < 1:
        raise SettingsError(f"{USER_MODEL_MAX_SIZE.name} must be a size such as 512mb, 2gb or 1048576, not {text!r}")
    return size


def _path(setting: Setting, default: Path) -> Path:
    text = setting.raw()
    return Path(text).expanduser() if text else default


def _positive_int(setting: Setting, default: int, example: str, unit: str = "whole number") -> int:
    text = setting.raw()
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{setting.name} must be a positive {unit}, e.g. {example}, not {text!r}")
    return value


READERS: dict[str, Callable[[], object]] = {
    DATA_DIR.name: data_dir,
    PIXEL_CAP.name: pixel_cap,
    QUEUE_SIZE.name: queue_size,
    CONCURRENCY.name: concurrency,
    MAX_FILE_SIZE.name: max_file_size,
    WEIGHTS_DIR.name: weights_dir,
    WEIGHTS_SOURCE.name: weights_source,
    MOS_DIR.name: mos_dir,
    MOS_STUDY.name: mos_study,
    HF_TOKEN.name: hf_token,
    DATASET_REPO.name: dataset_repo,
    CPU_BF16.name: cpu_bf16,
    CPU_KEEP_FREED.name: cpu_keep_freed,
    GAN_RUNS.name: gan_runs_dir,
    USER_MODELS_DIR.name: user_models_dir,
    USER_MODEL_MAX_SIZE.name: user_model_max_bytes,
}
"""The reader of each setting SR Studio reads itself (the external ones are Gradio's and huggingface_hub's)."""


# --- documentation and the start-up check ---------------------------------------------------


def markdown_table(settings: tuple[Setting, ...] = SETTINGS) -> str:
    """The README's settings table: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{setting.name}` | {setting.default} | {setting.meaning} |" for setting in settings]
    return "\n".join(rows)


def effective_settings() -> dict[str, str]:
    """Each setting SR Studio reads, as it is now (secrets hidden); raises :class:`SettingsError` on a bad one."""
    shown = {}
    for setting in SETTINGS:
        if setting.external:
            continue
        value = READERS[setting.name]()
        shown[setting.name] = _HIDDEN if setting.secret and value else ("unset" if value is None else str(value))
    return shown


def prepare_data_dir() -> Path:
    """Create the data folder if needed and check it is writable (a Space without persistent storage has no /data)."""
    folder = data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(
            f"cannot create {DATA_DIR.name}={folder} ({error.strerror}); "
            "point it at a writable folder (on a Space, enable persistent storage for /data)"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SettingsError(
            f"{DATA_DIR.name}={folder} is not writable by this user; fix its owner or point it elsewhere"
        )
    return folder


def main() -> int:
    """Print the effective settings and prepare the data folder; one line on stderr and 2 when something is wrong."""
    try:
        shown = effective_settings()
        prepare_data_dir()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, value in shown.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
