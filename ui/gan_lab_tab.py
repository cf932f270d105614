"""The GAN Lab tab: train the thesis's 1-D GAN live, and browse the image GAN runs.

A thin layer over :mod:`sr_core.gan`: the live chart streams
:func:`sr_core.gan.live.train_1d_live`'s snapshots, and the gallery shows
:func:`sr_core.gan.runs.runs_overview` for the runs folder in ``SR_STUDIO_GAN_RUNS``
(default ``runs/gan``). Like the app's other ``build_*_tab`` functions, it opens its own
``gr.Tab`` and is called inside the app's ``gr.Blocks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from sr_core.errors import SRStudioError
from sr_core.gan.live import train_1d_live
from sr_core.gan.runs import runs_overview, runs_root

INTRO = """### 1-D GAN, live (thesis ch. 4)
Goodfellow's algorithm with k discriminator steps per generator step. The linear generator
G(z) = a z + b learns N(2.5, 3.25) (3.25 is the standard deviation, as in the thesis's code);
the MLP generator learns the mixture of N(5.5, 3.25) and N(-3.2, 1.75). Red: the real density,
green: the generator's histogram, dashed: D(x), which flattens towards 1/2 as G catches up.
The mixture's MLP is about ten times slower per step than the linear generator."""
RUNS_INTRO = """### Image GAN runs: classical vs capsule discriminator
Sample grids and curves of the runs in `{root}`. FD and KID are computed on the features of
a small MNIST classifier trained by SR Studio (not Inception): compare them between these runs only."""
SNAPSHOTS_PER_RUN = 15


def train_1d(target: str, generator: str, dropout: float, k: float, lr: float,
             steps: float) -> Iterator[tuple[Any, str]]:
    """Stream (density figure, status line) while the 1-D GAN trains."""
    try:
        for snapshot in train_1d_live(target, generator, int(k), float(lr), int(steps),
                                      update_every=max(int(steps) // SNAPSHOTS_PER_RUN, 1), dropout=float(dropout)):
            yield snapshot.figure, f"**{snapshot.text}**"
    except SRStudioError as error:
        raise gr.Error(str(error)) from None


def show_runs(model: str | None) -> tuple[str, list[tuple[str, str]], Any, Any]:
    """(table or message, gallery items, curves figure, model picker) for the runs folder."""
    overview = runs_overview(runs_root(), model)
    picker = gr.Dropdown(choices=overview.models, value=overview.model)
    return overview.markdown, overview.gallery, overview.curves, picker


def build_gan_lab_tab() -> None:
    """Lay out the GAN Lab tab and wire its events."""
    with gr.Tab("GAN Lab"):
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                target = gr.Radio(["normal", "mixture"], value="normal", label="Target distribution")
                generator = gr.Radio(["linear", "mlp"], value="linear", label="Generator")
                dropout = gr.Slider(0.0, 0.9, value=0.0, step=0.05, label="Generator dropout (MLP only)")
                k = gr.Slider(1, 5, value=1, step=1, label="k: discriminator steps per generator step")
                lr = gr.Number(value=5e-3, label="Learning rate (Adam, both networks)", minimum=1e-5, maximum=0.1)
                steps = gr.Slider(100, 5000, value=1500, step=100, label="Steps")
                run = gr.Button("Train the 1-D GAN", variant="primary", elem_id="gan1d-run")
            with gr.Column(scale=2):
                density = gr.Plot(label="Real density, generator histogram and D(x)", elem_id="gan1d-plot")
                status = gr.Markdown(elem_id="gan1d-status")
        run.click(train_1d, [target, generator, dropout, k, lr, steps], [density, status], api_name="gan1d_live")

        gr.Markdown(RUNS_INTRO.format(root=runs_root()))
        initial = runs_overview(runs_root())
        with gr.Row():
            model = gr.Dropdown(initial.models, value=initial.model, label="Curves of", elem_id="gan-runs-model")
            refresh = gr.Button("Refresh runs", elem_id="gan-runs-refresh")
        table = gr.Markdown(initial.markdown, elem_id="gan-runs-table")
        gallery = gr.Gallery(initial.gallery, label="Latest sample grid of each run", columns=4, height=480, format="png",
                             object_fit="contain", elem_id="gan-runs-gallery")
        curves = gr.Plot(initial.curves, label="G loss, D loss, D accuracy", elem_id="gan-runs-curves")
        outputs = [table, gallery, curves, model]
        refresh.click(show_runs, [model], outputs, api_name="gan_runs")
        model.input(show_runs, [model], outputs)
