"""The GAN Lab's library calls, without the UI: live 1-D training and the runs gallery."""

import plotly.graph_objects as go
import pytest

from labs.gan.errors import GanSettingError
from labs.gan.live import train_1d_live
from labs.gan.runs import NO_RUNS_MESSAGE, runs_overview
from labs.gan.trainer import GanRunConfig, Schedule, evaluate_run, train

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def quiet(line: str) -> None:
    """Swallow the trainer's progress lines."""


def test_live_training_yields_a_density_figure_every_few_steps_and_at_the_end():
    snapshots = list(train_1d_live(steps=50, update_every=20))
    assert [snapshot.step for snapshot in snapshots] == [20, 40, 50]
    figure = snapshots[-1].figure
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["generator histogram", "real density", "D(x)"]
    assert all(0 <= value <= 1 for value in figure.data[2].y)
    assert snapshots[-1].text.startswith("step 50/50: learned mean")


def test_live_training_of_the_linear_generator_learns_the_normal_in_1500_steps():
    final = list(train_1d_live(target="normal", generator="linear", lr=5e-3, steps=1500, update_every=1500))[-1]
    assert final.summary["mean_error"] < 0.1 and final.summary["std_error"] < 0.1


def test_live_training_runs_the_mlp_on_the_mixture_with_k_and_dropout():
    final = list(train_1d_live(target="mixture", generator="mlp", k=2, dropout=0.5, steps=3, update_every=3))[-1]
    assert final.summary["target_mean"] == pytest.approx(1.15)


@pytest.mark.parametrize("settings", [{"steps": 0}, {"target": "uniform"}, {"generator": "cubic"}, {"k": 0}])
def test_live_training_refuses_impossible_settings_with_a_typed_error(settings):
    with pytest.raises(GanSettingError):
        list(train_1d_live(**settings))


def test_the_gallery_of_an_empty_runs_folder_says_how_to_make_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_GAN_RUNS", str(tmp_path / "missing"))
    overview = runs_overview({"bundled": tmp_path / "no-bundle", "runs": tmp_path / "missing"})
    assert overview.markdown == NO_RUNS_MESSAGE.format(root=tmp_path / "missing")
    assert "python -m sr_core gan-train" in overview.markdown
    assert overview.gallery == [] and overview.curves is None and overview.models == []


def test_the_gallery_shows_each_run_s_latest_grid_and_the_chosen_model_s_curves(tmp_path):
    train(GanRunConfig("sine", size="tiny"), tmp_path / "sine-cnn", Schedule(steps=3, sample_every=2), log=quiet)
    evaluate_run(train(GanRunConfig("gan1d"), tmp_path / "gan1d", Schedule(steps=2), log=quiet), tmp_path)
    overview = runs_overview({"": tmp_path}, model="sine")
    assert overview.models == ["gan1d", "sine"] and overview.model == "sine"
    assert overview.gallery == [(str(tmp_path / "sine-cnn" / "samples" / "step_000003.png"), "sine / cnn, step 3")]
    assert [trace.name for trace in overview.curves.data][:1] == ["sine / cnn"]
    assert "gan-eval" in overview.markdown  # no MNIST run is evaluated, so no table yet
