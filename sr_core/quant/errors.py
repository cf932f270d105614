"""Typed errors of the quantization tools; the CLI prints them as one line with exit code 2."""

from sr_core.errors import SRStudioError


class QuantSettingError(SRStudioError):
    """A setting that cannot work: an unknown loss set, a bit width outside 2-8, a model without batch norm."""


class CalibrationDataError(SRStudioError):
    """The calibration images cannot be found or read (an empty folder, images smaller than a crop)."""


class CompilerMissingError(SRStudioError):
    """The int8 models run as C++ kernels that Inductor compiles on first use, and no C++ compiler is installed."""
