"""Static PTQ with PT2E: INT8/INT6 classifiers and SR generators with PReLU, checked numerically against FP32."""

import pytest
import torch
from conftest import TINY_ARCH_KWARGS
from quant_helpers import give_batch_norm_statistics, tiny_teacher

from sr_core.errors import QuantSettingError
from sr_core.optimize import fold_batch_norms
from sr_core.ptq import quantization_config, quantize_static
from sr_core.registry import build_model

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _relative_error(candidate: torch.Tensor, reference: torch.Tensor) -> float:
    return ((candidate - reference).abs().max() / reference.abs().max()).item()


def test_int8_ptq_stays_close_to_fp32_and_int6_strays_further():
    teacher = tiny_teacher()
    images = torch.randn(32, 1, 28, 28)
    reference = teacher(images)
    errors = {
        bits: _relative_error(quantize_static(teacher, images.split(16), bits)(images), reference) for bits in (8, 6)
    }
    assert errors[8] < 0.05
    assert errors[8] < errors[6] < 0.5


def test_bit_widths_set_the_integer_ranges_of_activations_and_weights():
    config = quantization_config(6)
    assert (config.input_activation.quant_min, config.input_activation.quant_max) == (0, 63)
    assert (config.weight.quant_min, config.weight.quant_max) == (-32, 31)
    with pytest.raises(QuantSettingError, match="bit width"):
        quantization_config(9)


@pytest.mark.parametrize("name", ["srresnet", "swiftsrgan"])
def test_int8_sr_generators_with_prelu_match_fp32(name):
    """FX scales PReLU's positive inputs by its slope and eager mode crashes; PT2E must keep PReLU right."""
    torch.manual_seed(0)
    network = give_batch_norm_statistics(build_model(name, **TINY_ARCH_KWARGS[name]))
    for layer in network.modules():
        if isinstance(layer, torch.nn.PReLU):
            layer.weight.data.fill_(0.1)
    lr_batches = [torch.rand(2, 3, 12, 12) for _ in range(3)]
    quantized = quantize_static(network, lr_batches, 8)
    probe = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        reference, output = fold_batch_norms(network)(probe), quantized(probe)
    assert output.shape == (1, 3, 64, 80)
    assert _relative_error(output, reference) < 0.05


def test_ptq_without_calibration_data_is_a_typed_error():
    with pytest.raises(QuantSettingError, match="calibration"):
        quantize_static(tiny_teacher(), [], 8)
