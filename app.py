"""SR Studio's web app: the tabs of :mod:`studio.ui` in one Gradio Blocks, with its queue and limits.

Each tab lays out components and wires them to one service function per event
(:mod:`studio.services`); no image maths happens in the UI. ``python app.py`` serves on Gradio's
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860). Its settings (concurrency,
queue size, upload limit, pixel cap ...) are environment variables, all defined and documented
in :mod:`sr_core.settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from sr_core import settings
from sr_core.device import keep_freed_cpu_memory
from studio.ui.compare_tab import build_compare_tab
from studio.ui.components import CONCURRENCY
from studio.ui.gan_lab_tab import build_gan_lab_tab
from studio.ui.interpolate_tab import build_interpolate_tab
from studio.ui.mos_tabs import build_rate_tab, build_results_tab
from studio.ui.upscale_tab import build_upscale_tab

HEADER = """# SR Studio
x4 super-resolution with the models of the SR papers, compared honestly: images stay lossless PNG
end to end and metrics follow the papers' protocol (Y channel, 4-pixel border).
Learned models appear as *unavailable (no weights)* until their weights are in `weights/`."""
TABS: tuple[Callable[[], None], ...] = (
    build_upscale_tab,
    build_compare_tab,
    build_interpolate_tab,
    build_gan_lab_tab,
    build_rate_tab,
    build_results_tab,
)


def build_demo(tabs: tuple[Callable[[], None], ...] = TABS) -> gr.Blocks:
    """The app with its tabs and queue; launch it with :func:`launch`."""
    with gr.Blocks(title="SR Studio", delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(HEADER)
        for build_tab in tabs:
            build_tab()
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=settings.queue_size())
    return demo


def launch(demo: gr.Blocks, **overrides: Any) -> Any:
    """Serve ``demo`` with the upload limit; host and port from Gradio's environment unless overridden.

    CPU memory is set to be kept for reuse first, before Gradio starts the worker threads that
    run the models (:func:`sr_core.device.keep_freed_cpu_memory`).
    """
    keep_freed_cpu_memory()
    return demo.launch(max_file_size=settings.max_file_size(), **overrides)


if __name__ == "__main__":
    launch(build_demo())
