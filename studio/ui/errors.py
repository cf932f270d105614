"""The one adapter from the library's errors to Gradio's pop-ups, used by every tab.

A user error (:class:`sr_core.errors.SRStudioError`: a bad upload, a missing weights file ...)
becomes a ``gr.Error`` with the library's one-line message, the same the CLI prints. A file the
server cannot write (a full disk) is an ``OSError``, not a bug: the user is told so in one line,
without server paths, instead of Gradio's bare "Error". Anything else is a bug and still raises.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

from sr_core.errors import SRStudioError

GENERIC_FILE_ACTION = "write or read a file"


def gradio_error(error: SRStudioError | OSError, failed_to: str = GENERIC_FILE_ACTION) -> gr.Error:
    """The pop-up for ``error``; ``failed_to`` names what the server could not do when it is an ``OSError``."""
    if isinstance(error, SRStudioError):
        return gr.Error(str(error))
    return gr.Error(f"The server could not {failed_to} ({error.strerror or type(error).__name__}); try again later.")


@contextmanager
def user_errors(failed_to: str = GENERIC_FILE_ACTION) -> Iterator[None]:
    """Run a block with the library's user errors (and an unwritable disk) shown as pop-ups; bugs still raise."""
    try:
        yield
    except (SRStudioError, OSError) as error:
        raise gradio_error(error, failed_to) from None


def shown_as_gradio_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`user_errors` around an event handler, a streaming (generator) handler included."""
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streaming(*args: Any, **kwargs: Any) -> Any:
            with user_errors():
                yield from handler(*args, **kwargs)

        return streaming

    @functools.wraps(handler)
    def single(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return handler(*args, **kwargs)

    return single
