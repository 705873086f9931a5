"""Which device would each tensor live on? A stand-in for a GPU, on the CPU, for the checks.

A function that works on the CPU can still fail on a GPU: a tensor it makes without device= lives on the CPU
while its input lives on the GPU, and the two meet (`scores.masked_fill(torch.ones(T, T).bool(), …)`) or the
result comes back on the CPU. The checks first rerun a function on PyTorch's "meta" device (_core); where that
cannot work (.item(), .tolist() and a Python loop, or a model passed in), `trace` reruns it on the CPU with
real data and follows every tensor's would-be device with a TorchFunctionMode:

    the inputs, a module's parameters and buffers, and tensors made with device=…  → "input"
    tensors made without device= (torch.zeros(T), torch.tensor(rows)), .cpu()      → "cpu"
    any other result: "input" if any of its tensors is, else "cpu" if any is

An operation that combines an "input" tensor with a "cpu" one of one or more dimensions is what fails on a
GPU, except indexing, which accepts CPU indices, and copies.
"""
import sys
import weakref

import torch
from torch.overrides import TorchFunctionMode

INPUT, CPU = "input", "cpu"

_FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.arange, torch.eye, torch.tensor,
              torch.as_tensor, torch.linspace, torch.randn, torch.rand, torch.randint, torch.randperm,
              torch.tril_indices, torch.triu_indices, torch.from_numpy}
_CROSS_DEVICE = {torch.Tensor.__getitem__, torch.Tensor.__setitem__, torch.Tensor.copy_}  # CPU indices, copies


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


class _Tracer(TorchFunctionMode):
    def __init__(self, files):
        super().__init__()
        self.files = files  # the student's source files, to say on which line a clash happens
        self.tags = {}  # id(tensor) -> (weakref, tag)
        self.clash = None  # (the operation, line) of the first input/cpu clash

    def tag(self, t, tag):
        self.tags[id(t)] = (weakref.ref(t), tag)

    def of(self, t):
        ref, tag = self.tags.get(id(t), (None, None))
        return tag if ref is not None and ref() is t else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        given = list(_tensors(args)) + list(_tensors(kwargs))
        if func in _FACTORIES and not given:
            tag = INPUT if kwargs.get("device") is not None else CPU
        elif getattr(func, "__name__", "") == "cpu":
            tag = CPU
        elif getattr(func, "__name__", "") in ("to", "cuda", "type_as") and (
                "device" in kwargs or any(isinstance(a, (torch.device, torch.Tensor)) for a in args[1:])):
            tag = INPUT
        else:
            tags = [(self.of(t), t.dim()) for t in given]
            inputs = any(tag == INPUT for tag, _ in tags)
            if inputs and any(tag == CPU and dim > 0 for tag, dim in tags) and func not in _CROSS_DEVICE \
                    and self.clash is None:
                self.clash = (getattr(func, "__name__", str(func)), self._line())
            if func in (torch.Tensor.__setitem__, torch.Tensor.copy_):
                return out  # the target keeps its device
            tag = INPUT if inputs else CPU if any(tag == CPU for tag, _ in tags) else None
        if tag is not None:
            for t in _tensors(out):
                self.tag(t, tag)
        return out

    def _line(self):
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename not in self.files:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None


def trace(fn, args, kwargs, files):
    """Rerun fn(*args, **kwargs) following devices; the message for a tensor that would be on the CPU while the
    inputs are on a GPU, or None. A failure of the rerun itself is not the student's: None."""
    tracer = _Tracer(files)
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.nn.Module):
            for t in list(value.parameters()) + list(value.buffers()):
                tracer.tag(t, INPUT)
        for t in _tensors(value):
            tracer.tag(t, INPUT)
    try:
        with tracer:
            out = fn(*args, **kwargs)
    except Exception:
        return None
    if tracer.clash:
        op, line = tracer.clash
        return (f"a tensor your function makes on the CPU meets one from the input in `{op}`"
                f"{f' (line {line})' if line else ''}: on a GPU that fails with 'expected all tensors to be on "
                "the same device'. Create new tensors on the input's device (device=…, or new_zeros, zeros_like)")
    if any(tracer.of(t) == CPU for t in _tensors(out)):
        return ("your result is made on the CPU (torch.tensor(…), torch.zeros(…) without device=, or .cpu()): "
                "with the input on a GPU it would come back on the CPU. Make it on the input's device (device=…, "
                "or .to(the input's device))")
    return None
