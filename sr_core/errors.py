"""Typed errors of SR Studio.

Every error a user can cause derives from :class:`SRStudioError`, so the CLI and the app can
turn it into a one-line message (exit code 2, ``gr.Error``) instead of a traceback. Each message
says what went wrong and what to do about it.
"""


class SRStudioError(Exception):
    """Base class of every error caused by input, files or configuration (not by a bug)."""


class InvalidImageError(SRStudioError):
    """The file is not an image we can read (zero bytes, truncated, not an image, SVG/HTML)."""


class ImageTooLargeError(SRStudioError):
    """The image exceeds the pixel cap or looks like a decompression bomb."""


class UnknownModelError(SRStudioError):
    """No model of that name is registered."""


class WeightsNotFoundError(SRStudioError):
    """A model needs weights and none are bundled or given."""


class PackagedNetworkError(WeightsNotFoundError):
    """An ImageNet feature network's package is missing or its file is not the pinned one (the message says how to install it)."""


class WeightsMismatchError(SRStudioError):
    """A weights file does not fit the architecture (missing, unexpected or mis-shaped keys)."""


class CorruptWeightsError(SRStudioError):
    """A weights file cannot be parsed, fails its checksum or is an unsafe pickle."""


class WeightsTooLargeError(SRStudioError):
    """A user's model file is over the size cap (``SR_STUDIO_USER_MODEL_MAX_SIZE``); it is not read at all."""


class UnknownArchitectureError(WeightsMismatchError):
    """A user's model file holds tensors of no architecture SR Studio or spandrel recognises (or not an image model)."""


class UnsupportedScaleError(SRStudioError):
    """A model upscales by another factor than the place it is used in needs (Compare and MOS are x4 only)."""


class UnsupportedOnThisCPUError(SRStudioError):
    """A model cannot run at its published quality on this machine's CPU (int8 kernels without VNNI)."""


class TrainingConfigError(SRStudioError):
    """A training run cannot start as configured (unknown preset or key, no data, a run folder in use)."""


class SettingsError(SRStudioError, ValueError):
    """An environment setting has a malformed value (see :mod:`sr_core.settings`)."""


class QuantSettingError(SRStudioError):
    """A setting that cannot work: an unknown loss set, a bit width outside 2-8, a model without batch norm."""


class CalibrationDataError(SRStudioError):
    """The calibration images cannot be found or read (an empty folder, images smaller than a crop)."""


class CompilerMissingError(SRStudioError):
    """The int8 models run as C++ kernels that Inductor compiles on first use, and no C++ compiler is installed."""
