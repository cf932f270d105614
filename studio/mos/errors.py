"""Typed errors of MOS studies: each is a user's or a researcher's mistake, shown as one line."""

from sr_core.errors import SRStudioError


class StudyError(SRStudioError):
    """A study cannot be prepared or loaded as defined (no images, unknown method, missing weights, changed files)."""


class InvalidRatingError(SRStudioError):
    """A rating submission with a value outside the protocol (score not 1..5, an id not in the manifest)."""


class DuplicateRatingError(InvalidRatingError):
    """A rating for a (session, trial) that is already recorded: a double click or a replayed request."""


class RatingsFileError(SRStudioError):
    """A ratings CSV that cannot be read or appended to (another header, no rows, several studies mixed)."""


class SessionNotFoundError(SRStudioError):
    """A session id that is malformed or belongs to no session of this study (a stale browser, another study)."""
