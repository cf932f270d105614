"""The benchmark measures what it claims (no timing asserts: speed lives in the benchmark)."""

import math

import pytest
import torch

from sr_core.bench import SIZES, bench_model, count_macs, format_rows, peak_memory_growth_mib, write_csv
from sr_core.device import cpu_has_native_bf16
from sr_core.registry import build_model
from sr_core.settings import CPU_BF16
from studio.cli import main


def test_macs_of_a_single_conv_are_output_elements_times_kernel_volume():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, torch.rand(1, 3, 10, 10)) == 8 * 10 * 10 * 3 * 3 * 3


def test_depthwise_convs_count_one_input_channel_per_output():
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
    assert count_macs(conv, torch.rand(1, 8, 4, 4)) == 8 * 4 * 4 * 9


def test_swiftsrgan_needs_about_seven_times_fewer_macs_than_srgan():
    lr = torch.rand(1, 3, 24, 24)
    ratio = count_macs(build_model("srgan"), lr) / count_macs(build_model("swiftsrgan"), lr)
    assert 6 < ratio < 8


def test_benchmark_rows_compare_the_optimised_path_with_the_eager_reference(tmp_path):
    row = bench_model("srresnet", "tiny", torch.device("cpu"), repeats=1, model_kwargs={"num_block": 1})
    assert row.size == "tiny" and SIZES["tiny"] == (16, 16)
    assert row.max_abs_diff < 1e-4  # conftest keeps inference in float32
    assert row.speedup > 0 and math.isclose(row.frames_per_second, 1000 / row.optimised_ms)
    write_csv([row], tmp_path / "bench.csv")
    assert (tmp_path / "bench.csv").read_text().startswith("model,size,device,parameters")
    assert "srresnet" in format_rows([row])


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU emulates bfloat16")
def test_benchmark_reports_the_cost_of_bf16_on_cpus_that_have_it(monkeypatch):
    monkeypatch.setenv(CPU_BF16.name, "1")
    row = bench_model("srresnet", "tiny", torch.device("cpu"), repeats=1, model_kwargs={"num_block": 1})
    assert 0 < row.max_abs_diff < 2 / 255


def test_cpu_peak_memory_sees_a_large_temporary_allocation():
    growth = peak_memory_growth_mib(lambda: torch.ones(64 * 2**20 // 4).add_(1).sum())
    assert 48 < growth < 400


def test_bench_command_prints_a_table_for_the_tiny_size(capsys, tmp_path):
    assert (
        main(
            [
                "bench",
                "--models",
                "bicubic,srcnn",
                "--sizes",
                "tiny",
                "--repeats",
                "1",
                "--csv",
                str(tmp_path / "b.csv"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "peak MiB" in printed and "srcnn" in printed and (tmp_path / "b.csv").exists()


def test_cpu_peak_memory_still_sees_an_allocation_once_freed_memory_is_kept():
    from sr_core.device import keep_freed_cpu_memory

    keep_freed_cpu_memory()
    for _ in range(2):  # the second time, the block is reused: resident memory no longer grows
        growth = peak_memory_growth_mib(lambda: torch.ones(64 * 2**20 // 4).add_(1).sum())
    assert 48 < growth < 400
