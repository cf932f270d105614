"""The container's health check: exit 0 when the app answers on its port, 1 otherwise.

Docker runs it every 30 s (``HEALTHCHECK`` in the Dockerfile); it asks the app's own port on
the loopback address, whatever ``GRADIO_SERVER_NAME`` the app listens on.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def healthy(url: str, timeout_s: float = TIMEOUT_S) -> bool:
    """Whether ``url`` answers 200 within ``timeout_s`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    port = os.environ.get("GRADIO_SERVER_PORT", "7860")
    url = f"http://127.0.0.1:{port}/"
    if healthy(url):
        return 0
    print(f"unhealthy: no answer from {url}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
