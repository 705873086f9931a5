"""The device tracer: on the CPU, it follows which tensors would be on the input's GPU and which on the CPU."""
import pytest
import torch

from course_lib.check import _device

X = torch.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("fn, phrase", [
    (lambda x: x + torch.ones(3), "meets one from the input in `add`"),
    (lambda x: x.masked_fill(torch.ones(2, 3).bool(), 0.0), "in `masked_fill`"),
    (lambda x: torch.cat([x, torch.zeros(1, 3)]), "in `cat`"),
    (lambda x: torch.tensor(x.tolist()), "your result is made on the CPU"),
    (lambda x: x.cpu() * 2, "your result is made on the CPU"),
    (lambda x: torch.zeros(2, 3) + x.sum().item(), "your result is made on the CPU"),
])
def test_a_tensor_left_on_the_cpu_is_found(fn, phrase):
    message = _device.trace(fn, (X,), {}, set())
    assert message and phrase in message, message


@pytest.mark.parametrize("fn", [
    lambda x: x + torch.ones(3, device=x.device),
    lambda x: x / torch.tensor(2.0),                         # a 0-d CPU tensor goes with any device
    lambda x: x[torch.arange(2)],                            # CPU indices index a GPU tensor
    lambda x: torch.tensor(x.tolist()).to(x.device),
    lambda x: torch.tensor(x.tolist(), device=x.device),
    lambda x: x.new_zeros(2, 3) + torch.zeros_like(x),
    lambda x: x.double().float() * 2,                        # .to / casts keep the device
    lambda x: x.sum().item(),                                # no tensor comes back
    lambda x: 1 / 0,                                         # a failure of the rerun is not a device problem
])
def test_tensors_on_the_inputs_device_pass(fn):
    assert _device.trace(fn, (X,), {}, set()) is None


def test_a_modules_parameters_live_on_the_device():
    layer = torch.nn.Linear(3, 4)
    assert "in `add`" in _device.trace(lambda m, x: m(x) + torch.zeros(2, 4), (layer, X), {}, set())
    assert _device.trace(lambda m, x: m(x) + torch.zeros(2, 4, device=x.device), (layer, X), {}, set()) is None


def test_the_line_is_named():
    def fn(x):
        mask = torch.ones(2, 3)
        return x * mask
    assert f"(line {fn.__code__.co_firstlineno + 2})" in _device.trace(fn, (X,), {}, {fn.__code__.co_filename})
