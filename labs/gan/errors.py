"""Typed errors of the GAN library; each says what went wrong and what to do about it.

They derive from :class:`sr_core.errors.SRStudioError`, so the CLI prints them as one line
with exit code 2 and the app shows them as a pop-up instead of a traceback.
"""

from sr_core.errors import SRStudioError


class GanDataError(SRStudioError):
    """The training data cannot be found or read (no MNIST IDX files, no images in the folder)."""


class GanSettingError(SRStudioError):
    """A setting that cannot work: an unknown GAN or discriminator, a non-positive step count, ..."""


class RunMismatchError(SRStudioError):
    """A run folder holds a checkpoint of a different configuration than the one asked for."""
