"""`videoflextok_core.loading.load_model` (and `device`): the one loader of the CLI, the app and
the dataset job: the device checked first, the precision set, a bad one refused before any
weights are read."""

import pytest
from paths import TINY

from videoflextok_core.device import default_device
from videoflextok_core.loading import load_model
from videoflextok_core.model.precision import Precision


def test_default_device():
    assert default_device(True) == "cuda"
    assert default_device(False) == "cpu"


def test_loads_in_the_precision_asked_for():
    model = load_model(TINY, "cpu", "bf16")
    assert model.precision == Precision.resolve("bf16", "cpu") and not model.training
    assert load_model(TINY, "cpu", "fp32").precision.runs == "fp32"


@pytest.mark.parametrize(
    "ref, device, precision, fragment",
    [
        (TINY, "nodevice", "auto", "device 'nodevice' is not usable here"),
        (TINY, "cpu", "fp16", "'fp16'"),
        ("/no/such/checkpoint", "nodevice", "fp16", "not usable here"),  # the device first
    ],
)
def test_refused_before_reading(ref, device, precision, fragment):
    with pytest.raises(ValueError, match=fragment):
        load_model(ref, device, precision)
