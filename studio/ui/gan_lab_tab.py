"""The GAN Lab tab: train the thesis's 1-D GAN live, and browse the image GAN runs.

A thin layer over :mod:`labs.gan`: the live chart streams
:func:`labs.gan.live.train_1d_live`'s snapshots, the gallery shows
:func:`labs.gan.runs.runs_overview` for the bundled runs (``assets/gan_runs``) and the runs folder in
``SR_STUDIO_GAN_RUNS`` (default ``runs/gan``), and "sample now" draws from one of their generators
(:func:`labs.gan.sampling.sample_grid`). Like the app's other ``build_*_tab`` functions, it opens
its own ``gr.Tab`` and is called inside the app's ``gr.Blocks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import numpy as np

from labs.gan.bundle import lab_sources
from labs.gan.live import train_1d_live
from labs.gan.runs import runs_overview, runs_root
from labs.gan.sampling import sample_grid, sampler_choices
from studio.ui.errors import shown_as_gradio_errors

INTRO = """### 1-D GAN, live (thesis ch. 4)
Goodfellow's algorithm with k discriminator steps per generator step. The linear generator
G(z) = a z + b learns N(2.5, 3.25) (3.25 is the standard deviation, as in the thesis's code);
the MLP generator learns the mixture of N(5.5, 3.25) and N(-3.2, 1.75). Red: the real density,
green: the generator's histogram, dashed: D(x), which flattens towards 1/2 as G catches up.
The mixture's MLP is about ten times slower per step than the linear generator."""
RUNS_INTRO = """### Image GAN runs: classical vs capsule discriminator
The five image GANs trained on MNIST with each discriminator, bundled with SR Studio, and your own
runs in `{root}`. FD and KID are computed on the features of a small MNIST classifier trained by
SR Studio (not Inception): compare them between these runs only."""
SAMPLE_INTRO = """### Sample now
Fresh digits from a trained generator: ACGAN draws the digit you ask for; InfoGAN's sweep puts its
ten categorical codes in rows and moves one continuous code from -2 to 2 along each row."""
ANY_DIGIT = "one per row"
SWEEPS = {"no sweep": None, "sweep c1": 0, "sweep c2": 1}
SNAPSHOTS_PER_RUN = 15


@shown_as_gradio_errors
def train_1d(
    target: str, generator: str, dropout: float, k: float, lr: float, steps: float
) -> Iterator[tuple[Any, str]]:
    """Stream (density figure, status line) while the 1-D GAN trains."""
    for snapshot in train_1d_live(
        target,
        generator,
        int(k),
        float(lr),
        int(steps),
        update_every=max(int(steps) // SNAPSHOTS_PER_RUN, 1),
        dropout=float(dropout),
    ):
        yield snapshot.figure, f"**{snapshot.text}**"


def show_runs(model: str | None, sampled: str | None) -> tuple[str, list[tuple[str, str]], Any, Any, Any]:
    """(table or message, gallery items, curves figure, model picker, sampler's run picker) for the runs."""
    overview = runs_overview(lab_sources(), model)
    picker = gr.Dropdown(choices=overview.models, value=overview.model)
    return overview.markdown, overview.gallery, overview.curves, picker, _sampler_picker(sampled)


def _sampler_picker(chosen: str | None, **layout: Any) -> gr.Dropdown:
    """The run picker of "sample now" (or its update), keeping ``chosen`` while it is still there."""
    choices = sampler_choices(lab_sources())
    folders = [folder for _, folder in choices]
    return gr.Dropdown(choices=choices, value=chosen if chosen in folders else next(iter(folders), None), **layout)


@shown_as_gradio_errors
def sample_now(run: str | None, digit: str, sweep: str, seed: float) -> np.ndarray:
    """A 10x10 grid of fresh samples from the chosen run's generator."""
    if not run:
        raise gr.Error("No trained image GAN to sample from: bundle or train one first")
    return sample_grid(run, None if digit == ANY_DIGIT else int(digit), SWEEPS[sweep], int(seed))


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
        initial = runs_overview(lab_sources())
        with gr.Row():
            model = gr.Dropdown(initial.models, value=initial.model, label="Curves of", elem_id="gan-runs-model")
            refresh = gr.Button("Refresh runs", elem_id="gan-runs-refresh")
        table = gr.Markdown(initial.markdown, elem_id="gan-runs-table")
        gallery = gr.Gallery(
            initial.gallery,
            label="Final sample grid of each run: classical (left), capsule (right)",
            columns=2,
            height=900,
            format="png",
            object_fit="contain",
            elem_id="gan-runs-gallery",
        )
        curves = gr.Plot(initial.curves, label="G loss, D loss, D accuracy", elem_id="gan-runs-curves")

        gr.Markdown(SAMPLE_INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                sampled = _sampler_picker(None, label="Generator", elem_id="gan-sample-run")
                digit = gr.Dropdown(
                    [ANY_DIGIT, *map(str, range(10))],
                    value=ANY_DIGIT,
                    label="Digit (ACGAN) or categorical code (InfoGAN)",
                    elem_id="gan-sample-digit",
                )
                sweep = gr.Radio(list(SWEEPS), value="no sweep", label="InfoGAN: sweep a continuous code")
                seed = gr.Number(value=0, precision=0, label="Seed")
                draw = gr.Button("Sample now", variant="primary", elem_id="gan-sample-run-button")
            samples = gr.Image(
                label="Fresh samples",
                type="numpy",
                format="png",
                interactive=False,
                elem_id="gan-sample-image",
                scale=2,
            )
        draw.click(sample_now, [sampled, digit, sweep, seed], samples, api_name="gan_sample")

        outputs = [table, gallery, curves, model, sampled]
        refresh.click(show_runs, [model, sampled], outputs, api_name="gan_runs")
        model.input(show_runs, [model, sampled], outputs)
