"""The machinery behind every exercise check.

A checker is a function `body(c)` decorated with `@exercise`. It calls the student's function through
`c.call(...)`, validates what came back with `c.tensor(...)` and compares it with `c.close(...)`, naming
the common mistakes it recognises. The decorated check prints one line and returns a `Result`:

    ✅ softmax: passed (4 checks)
    ❌ softmax: you normalised over the wrong axis … — hint: …
    ⏳ softmax: not implemented yet — replace `raise NotImplementedError()` with your code

It never raises, whatever the student's function returns or raises, unless strict mode is on: `strict=True`,
the environment variable COURSE_STRICT=1, or — when COURSE_STRICT is not set at all — a kernel started by
nbgrader's autograde or validate (which set NBGRADER_EXECUTION), so that a grader who forgets the variable
cannot hand out marks for wrong answers. COURSE_STRICT=0 turns strict mode off even there.
"""
import contextlib
import functools
import inspect
import io
import os
import re
import traceback
import warnings
from dataclasses import dataclass

import torch

from . import _device, _gradients
from ._diagnose import explain, explain_error

STRICT_ENV = "COURSE_STRICT"
GRADER_ENV = "NBGRADER_EXECUTION"  # "autograde" or "validate" in the kernels nbgrader starts


class Fail(Exception):
    """Raised inside a checker: the message says what is wrong (and how to fix it)."""


class _NotImplemented(Exception):
    pass


@dataclass
class Result:
    """What a check found. status: "passed", "failed" or "not_implemented"."""

    name: str
    status: str
    message: str
    checks: int = 0

    @property
    def passed(self):
        return self.status == "passed"

    def __str__(self):
        icon = {"passed": "✅", "failed": "❌", "not_implemented": "⏳"}[self.status]
        return f"{icon} {self.name}: {self.message}"

    def _ipython_display_(self):
        pass  # the check already printed its line; show nothing more in a notebook


def _code(fn):
    """The code object of the student's own function, under any decorator (@torch.no_grad() …), or None."""
    try:
        return getattr(inspect.unwrap(fn), "__code__", None)
    except ValueError:  # a __wrapped__ cycle
        return None


def _student_files(fn):
    """The source files of a student's function, or of every method of a student's class."""
    parts = vars(fn).values() if isinstance(fn, type) else [fn]
    return {code.co_filename for code in map(_code, parts) if code is not None}


def where(error, fn):
    """" (line N)" for the last line of the student's own code in the error's traceback, else ""."""
    files = _student_files(fn)
    mine = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in files]
    return f" (line {mine[-1].lineno})" if mine else ""


def _raised_in(error, fn):
    """Where a NotImplementedError came from: None when from the student's exercise itself, else the name
    of the unfinished function or method it called (e.g. "MultiHeadAttention.__init__")."""
    tb, frames = error.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    files, last = _student_files(fn), frames[-1]
    if isinstance(fn, type) and last.co_filename in files and last.co_name in vars(fn):
        return None  # one of the exercise's own methods
    if not isinstance(fn, type) and (len(frames) <= 2 or last is _code(fn)):
        return None
    return getattr(last, "co_qualname", last.co_name).split("<locals>.")[-1]


def _describe(x):
    if x is None:
        return "None"
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def _meaning(error):
    """ — what the error usually means, or "" when it is not one the course knows."""
    text = explain_error(error)
    return f" — {text}" if text else ""


def shape_note(got, want, inputs=()):
    """Why a result of shape `got` may not have shape `want`, as " — …", or "". inputs: [(name, shape)] of the
    call's tensors, to say where a wrong size came from."""
    got, want = tuple(got), tuple(want)
    if len(got) == len(want) >= 2 and got[:-2] + got[-2:][::-1] == want:
        return " — it looks transposed (last two axes swapped)"
    if sorted(got) == sorted(want):
        return " — the right sizes in the wrong order: check which axis is which"
    if [n for n in got if n != 1] == [n for n in want if n != 1]:
        return (" — an extra axis of size 1: drop keepdim=True or squeeze it" if len(got) > len(want)
                else " — an axis of size 1 is missing: did you squeeze() it away?")
    if len(got) == len(want) >= 2 and got[0] == 1 < want[0] and got[1:] == want[1:]:
        return (f" — one row where the batch has {want[0]}: does your code handle only the first element (ids[0], "
                "a fixed batch of 1)? Work on every row at once, or loop over all of them")
    if len(got) == len(want) - 1 and got == want[1:]:
        return " — the first axis (the batch) is missing: index [0] somewhere, or a sum or mean over it?"
    if len(got) == len(want) - 1:
        return " — one axis too few: a sum, mean or max that should keep its axis, or an index that drops one"
    if len(got) == len(want) + 1:
        return " — one axis too many: a missing reduction, or unsqueeze / [:, None] where none is needed"
    if len(got) == len(want):
        diff = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        if len(diff) == 1:
            i = diff[0]
            source = [f"axis {a} of `{name}`" for name, shape in inputs for a, n in enumerate(shape)
                      if n == got[i] and got[i] not in want]
            if source:
                return (f" — only axis {i - len(want)} differs ({got[i]} instead of {want[i]}), and {got[i]} is the "
                        f"size of {source[0]}: did a sum, mean or product run over the wrong axis?")
            return f" — only axis {i - len(want)} differs ({got[i]} instead of {want[i]}): which size did you use there?"
    if torch.Size(got).numel() == torch.Size(want).numel():
        return " — same number of elements: a reshape or view in the wrong order?"
    return ""


def _near(out, expected, atol, rtol):
    return out.shape == expected.shape and torch.allclose(out.double(), expected.double(), atol=atol, rtol=rtol)


def _unchanged(after, before):
    """Same shape and values (NaN where NaN was: a NaN never equals itself)."""
    if after.shape != before.shape or after.dtype != before.dtype:
        return False
    if torch.equal(after, before):
        return True
    return after.is_floating_point() and torch.allclose(after, before, rtol=0, atol=0, equal_nan=True)


_DEVICE_ERROR = re.compile(r"is not on the expected device|Expected all tensors to be on the same device|"
                           r"found at least two devices")


def _arg_names(fn, args, kwargs):
    """The names of fn's arguments, in the order given ("argument 2" where the signature does not say)."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [f"`{params[i]}`" if i < len(params) else f"argument {i + 1}" for i in range(len(args))]
    return names + [f"`{k}`" for k in kwargs]


def _same(a, b):
    """Equal defaults: 1 and 1.0 are, None and 0 are not."""
    try:
        return (a is None) == (b is None) and isinstance(a, bool) == isinstance(b, bool) and bool(a == b)
    except Exception:
        return False


@contextlib.contextmanager
def _quiet():
    """A rerun of the student's function prints nothing and warns nothing."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _device_probe(fn, args, kwargs):
    """Run fn once more on "meta" copies of its tensors (shapes only, no data), its printing silenced. A
    tensor it makes on the CPU (torch.ones(T, T) without device=) then meets the input's device, as it would
    on a GPU, or comes back on the CPU; returns the message for that, or None. Where "meta" cannot run it
    (.item(), .tolist(), nonzero …) or a model is passed, _device.trace follows the devices on the CPU
    instead. Skipped when a generator is passed (the course's generators live on the CPU by design)."""
    values = list(args) + list(kwargs.values())
    if not any(isinstance(v, torch.Tensor) for v in values) or any(isinstance(v, torch.Generator) for v in values):
        return None
    if any(isinstance(v, torch.nn.Module) for v in values):  # a model stays where it is: follow the devices
        with _quiet():
            return _device.trace(fn, args, kwargs, _student_files(fn))
    meta = lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v  # noqa: E731
    try:
        with _quiet():
            out = fn(*map(meta, args), **{k: meta(v) for k, v in kwargs.items()})
    except Exception as e:
        if not _DEVICE_ERROR.search(str(e)):  # .item(), .tolist(), nonzero … cannot run on "meta"
            with _quiet():
                return _device.trace(fn, args, kwargs, _student_files(fn))
        out = e
    returned = out if isinstance(out, (tuple, list)) else [out]
    if isinstance(out, Exception) or any(isinstance(t, torch.Tensor) and t.device.type != "meta" for t in returned):
        name = next((n.strip("`") for n, v in zip(_arg_names(fn, args, kwargs), values)
                     if isinstance(v, torch.Tensor) and n.startswith("`")), "x")
        return (f"your function makes a tensor on the CPU while its input may be elsewhere: with `{name}` on a "
                "GPU it would fail ('expected all tensors to be on the same device') or hand back a CPU result. "
                f"Create new tensors on the input's device, with device={name}.device (or torch.ones_like, "
                "new_ones, new_zeros)")
    return None


class Checker:
    """Handed to a checker body. Counts the checks made and turns problems into messages."""

    def __init__(self, fn):
        self.fn = fn
        self.count = 0
        self._first_call = None  # (args, kwargs) of the first call, for the device probe at the end
        self._inputs = []  # [(name, shape)] of the latest call's tensors, for shape notes
        self._passed = set()  # the input shapes of calls whose result a close() accepted
        self.reference = None  # a differentiable reference: finish() compares the gradients with it

    def call(self, *args, errors=None, **kwargs):
        """Call the student's function on copies of the inputs (so it cannot change ours); fail if it changed
        one of them in place (x += …, x.mul_(…)): in a notebook that would corrupt the caller's tensor.
        errors: {regex: message}: an error whose text matches fails with that message instead (what the
        error means in this exercise: a product in the wrong order …), keeping the line number."""
        try:
            return self._call(args, kwargs)
        except Fail as e:
            for pattern, message in (errors or {}).items():
                if re.search(pattern, str(e)):
                    line = re.search(r"\(line \d+\)", str(e))
                    raise Fail(message + (f" {line.group(0)}" if line else "")) from None
            raise

    def _call(self, args, kwargs):
        args = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
        kwargs = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
        given = [(name, v, v.clone()) for name, v in zip(_arg_names(self.fn, args, kwargs),
                                                          args + list(kwargs.values())) if isinstance(v, torch.Tensor)]
        self._inputs = [(name.strip("`"), tuple(v.shape)) for name, v, _ in given]
        try:
            out = self.fn(*args, **kwargs)
        except NotImplementedError as e:
            raise _NotImplemented(_raised_in(e, self.fn)) from None
        except Exception as e:  # anything a student's code can raise becomes a message
            raise Fail(f"your {'class' if isinstance(self.fn, type) else 'function'} raised "
                       f"{type(e).__name__}{where(e, self.fn)}: {e}{_meaning(e)}") from None
        for name, after, before in given:
            if not _unchanged(after, before):
                raise Fail(f"your function changed its input ({name}) in place — an in-place operation such as "
                           "x += …, x[...] = … or a method ending in _ (mul_, masked_fill_) overwrites the "
                           "caller's tensor: compute a new tensor instead (x = x + …, masked_fill without _)")
        if self._first_call is None:
            self._first_call = (args, kwargs)
        return out

    def finish(self):
        """After the checks passed: do its gradients match the reference's (when the check set
        c.reference), and does it also run where its inputs live on another device? (A module exercise has
        its own probes, _modules.gradient_probe and device_probe.)"""
        if self._first_call is not None and not isinstance(self.fn, type):
            args, kwargs = self._first_call
            if self.reference is not None:
                self.count += 1
                message = _gradients.probe(self.fn, self.reference, args, kwargs, _arg_names(self.fn, args, kwargs))
                if message:
                    raise Fail(message)
            message = _device_probe(self.fn, args, kwargs)
            if message:
                raise Fail(message)

    def defaults(self, reference):
        """One counted check: the student's function (or class) gives its keyword arguments the reference's
        defaults (temperature=1.0, norm_first=False …): later cells call it without them."""
        self.count += 1
        try:
            mine = inspect.signature(self.fn).parameters
            theirs = inspect.signature(reference).parameters
        except (TypeError, ValueError):
            return
        for name, p in theirs.items():
            q = mine.get(name)
            if p.default is not p.empty and q is not None and q.default is not q.empty and \
                    not (q.default is p.default or _same(q.default, p.default)):
                raise Fail(f"your default {name}={q.default!r} is not the exercise's {name}={p.default!r}: the "
                           "notebook's later cells call it without that argument")

    def tensor(self, out, shape=None, dtype=None, what="your result"):
        """Check that `out` is a finite tensor of the expected shape (and dtype); return it."""
        if out is None:
            raise Fail(f"{what} is None — did you forget to `return` it?")
        if not isinstance(out, torch.Tensor):
            if isinstance(out, (list, tuple)) and out and all(isinstance(t, torch.Tensor) for t in out):
                raise Fail(f"{what} is a {type(out).__name__} of {len(out)} tensors, expected one tensor: join "
                           "pieces built one at a time with torch.stack (a new axis) or torch.cat (an existing "
                           "one) — or did you return a pair where one tensor is asked for?")
            hint = " (wrap it with torch.tensor(...) or use torch operations)" if isinstance(
                out, (list, tuple, int, float)) or type(out).__module__ == "numpy" else ""
            raise Fail(f"{what} is {_describe(out)}, expected a torch.Tensor{hint}")
        if shape is not None and tuple(out.shape) != tuple(shape):
            raise Fail(f"{what} has shape {tuple(out.shape)}, expected {tuple(shape)}"
                       f"{shape_note(out.shape, shape, self._inputs)}{self._fixed_size()}")
        if dtype is not None and out.dtype != dtype:
            raise Fail(f"{what} has dtype {out.dtype}, expected {dtype}")
        if out.is_floating_point():
            if torch.isnan(out).any():
                raise Fail(f"{what} contains NaN — look for 0/0, inf - inf or exp() of a huge number")
            if torch.isneginf(out).any() and not torch.isposinf(out).any() and out.dim() >= 1 and \
                    not torch.isneginf(out).all(-1).any() and torch.isfinite(out).any():
                raise Fail(f"{what} contains -inf, though no row is -inf throughout: masked scores, not yet turned "
                           "into weights? softmax turns each -inf into a weight of 0, so nothing returned after "
                           "it holds -inf")
            if torch.isneginf(out).any() and not torch.isposinf(out).any():
                raise Fail(f"{what} contains -inf — usually a masked_fill(…, -inf) that left nothing real: a "
                           "max or a row over positions that are all masked; check which positions your mask "
                           "selects (True where?)")
            if torch.isinf(out).any():
                raise Fail(f"{what} contains inf — look for exp() overflowing or a division by zero")
        return out

    def expect(self, condition, message):
        """One counted check: fail with `message` unless `condition` holds."""
        self.count += 1
        if not condition:
            raise Fail(message)

    def name_mistake(self, out, expected, mistakes, *, atol=1e-5, rtol=1e-4):
        """If `out` is not `expected` but one of the known `mistakes` ({message: wrong output}), fail with its
        message; otherwise return (so a check can name a mistake before it probes where the answer is wrong)."""
        if _near(out, expected, atol, rtol):
            return
        for message, wrong in (mistakes or {}).items():
            if _near(out, wrong, atol, rtol):
                raise Fail(message)

    def close(self, out, expected, mistakes=None, *, atol=1e-5, rtol=1e-4, what="your result", hint="",
              axes=None, padded=None, sizes=None, magnitude=None):
        """One counted check: `out` matches `expected`; otherwise name the mistake it matches, or say where
        and how it differs (course_lib.check._diagnose). axes: a name per axis of the result ("batch",
        "query", …); padded: bool, True at padded positions; sizes: {"d_k": 8, …}, the widths a constant factor
        is compared with; magnitude: the largest input size involved, which widens atol to float32 rounding
        at that size (exp(x - 1e4) is only as exact as 1e4 is in float32)."""
        self.count += 1
        if out.is_floating_point() and expected.dtype == torch.float32 and out.dtype != torch.float32:
            raise Fail(f"{what} has dtype {out.dtype}, expected torch.float32 (PyTorch's default, and the "
                       f"reference's): a {out.dtype} result changes the dtype of everything computed from it, and "
                       "float64 @ float32 fails — do not convert (.double(), dtype=torch.float64, numpy)")
        if magnitude is not None:
            atol = max(atol, 4 * torch.finfo(torch.float32).eps * float(magnitude))
        expected = expected.to(out.dtype) if out.is_floating_point() else expected
        if out.shape != expected.shape and not any(out.shape == w.shape for w in (mistakes or {}).values()):
            raise Fail(f"{what} has shape {tuple(out.shape)}, expected {tuple(expected.shape)}"
                       f"{shape_note(out.shape, expected.shape, self._inputs)}{self._fixed_size()}")
        if _near(out, expected, atol, rtol):
            self._passed.add(tuple(shape for _, shape in self._inputs))
            return
        self.name_mistake(out, expected, mistakes, atol=atol, rtol=rtol)
        if out.shape != expected.shape:
            raise Fail(f"{what} has shape {tuple(out.shape)}, expected {tuple(expected.shape)}"
                       f"{shape_note(out.shape, expected.shape, self._inputs)}{self._fixed_size()}")
        err = (out.double() - expected.double()).abs().max().item()
        how = explain(out, expected, axes=axes, padded=padded, sizes=sizes, atol=atol, rtol=rtol)
        if how:
            raise Fail(f"{what} is wrong: {how}" + (f" — hint: {hint}" if hint else ""))
        raise Fail(f"{what} differs from the reference (largest difference {err:.3g}){self._fixed_size()}"
                   + (f" — hint: {hint}" if hint else ""))

    def _fixed_size(self):
        """ — a note when an earlier input of other sizes was answered right (a size written as a number), or ""."""
        now = tuple(shape for _, shape in self._inputs)
        before = next((s for s in self._passed if len(s) == len(now) and s != now), None)
        if before is None:
            return ""
        changed = [(name, old, new) for (name, new), old in zip(self._inputs, before) if old != new]
        was = " and ".join(f"`{name}` had shape {old}" for name, old, _ in changed)
        now = " and ".join(f"{new}" for _, _, new in changed)
        return (f" — it was right when {was}, but not for {now}: is a size fixed in your code (a number where "
                ".shape, .size() or len() belongs)?")


def _strict(strict):
    if strict is not None:
        return bool(strict)
    value = os.environ.get(STRICT_ENV, "").strip().lower()
    if value:
        return value in ("1", "true", "yes", "on")
    return bool(os.environ.get(GRADER_ENV))


CHECKS = {}  # name -> check, for choose()


def exercise(body):
    """Turn a checker body `body(c: Checker)` into the check `NAME(fn, strict=None, quiet=False) -> Result`.

    The body runs with PyTorch's random state saved, seeded and restored: a check never changes what the
    notebook's later cells draw, and gives the same verdict whatever was drawn before it."""
    name = body.__name__

    @functools.wraps(body)
    def check(fn, strict=None, quiet=False):
        c = Checker(fn)
        if not callable(fn):
            result = Result(name, "failed", f"expected your {'class' if name[0].isupper() else 'function'} "
                                            f"`{name}`, got {_describe(fn)}")
        else:
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)  # the same draws for an answer that uses the global generator, always
                    body(c)
                    c.finish()
                result = Result(name, "passed", f"passed ({c.count} checks)", c.count)
            except _NotImplemented as e:
                inner = e.args[0] if e.args else None
                result = Result(name, "not_implemented", "not implemented yet — " + (
                    f"your function calls `{inner}`, which is not implemented yet: finish that one first"
                    if inner else "replace `raise NotImplementedError()` with your code"))
            except Fail as e:
                result = Result(name, "failed", str(e), c.count)
            except Exception as e:  # a bug in the checker itself must not stop the notebook either
                result = Result(name, "failed", f"the check could not run ({type(e).__name__}: {e})", c.count)
        if quiet:
            return result
        print(result)
        if _strict(strict) and not result.passed:
            raise AssertionError(str(result))
        return result

    check.__doc__ = body.__doc__
    CHECKS[name] = check
    return check


def choose(yours, library):
    """Yours if it passes its check (run again, silently), else the library's: one line says which.

    choose(MultiHeadAttention, course_lib.attention.MultiHeadAttention) -> the class the chapter goes on with.
    The check is the one named like the library's object; it never raises, even in strict mode.
    """
    name = library.__name__
    result = CHECKS[name](yours, quiet=True)
    where_from = f"{library.__module__}.{getattr(library, '__qualname__', name)}"
    if result.passed:
        print(f"✅ from here on the chapter uses your {name}")
        return yours
    state = "is not finished yet" if result.status == "not_implemented" else "does not pass its check yet"
    print(f"↩ your {name} {state}: the chapter goes on with the library's {where_from}")
    return library
