"""Writing files so that a crash or a full disk never leaves a half-written file where a good one was."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_target(path: str | Path) -> Iterator[str]:
    """A temporary path beside ``path`` that replaces ``path`` only when the block succeeds.

    Write the whole file to the yielded path; ``os.replace`` then swaps it in, which is atomic
    on one file system. If the block raises (``ENOSPC``, a crash of the writer), the temporary
    file is removed and an existing ``path`` keeps its earlier content. The caller creates the
    file, so it gets the usual permissions (``mkstemp`` would make it private to its owner).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield str(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
