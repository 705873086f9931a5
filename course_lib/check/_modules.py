"""Checking a module the student wrote (a class): build it, give it the reference's weights, probe it.

A module check builds the student's class and the library's at the same sizes, fills the library's with
random weights (layer norms too, so that one norm cannot pass for another), copies them into the student's
module by name — the parameter layout the exercise states — and compares what both compute. General probes
say *where* a module goes wrong before any list of known mistakes is consulted:

    build(c, cls, *args)            the student's module, or a message about __init__ / nn.Module / super()
    load(c, mine, reference)        the weights copied across, or which names and shapes differ from the layout
    forward(c, module, *args)       call it; a changed input (x += …) or an exception becomes a message
    future_probe(...)               does position t see positions after t?
    padding_probe(...)              do masked (padded) keys still reach the output?
    dropout_probe(...)              is dropout off in eval mode, and on in train mode?
    gradient_probe(...)             do the gradients reach every parameter as in the reference?
    dropout_calls(...)              is self.dropout applied as often as the exercise says?
    device_probe(...)               does forward make its tensors (a mask…) on the input's device?
"""
import copy

import torch
import torch.nn as nn

from ._core import Fail, _meaning, _NotImplemented, _raised_in, _unchanged, where


def build(c, cls, *args, **kwargs):
    """The student's module cls(*args, **kwargs), in eval mode."""
    name = getattr(cls, "__name__", "your class")
    if not isinstance(cls, type):
        raise Fail(f"expected a class `{name}` (class {name}(nn.Module): …), got a {type(cls).__name__}")
    if not issubclass(cls, nn.Module):
        raise Fail(f"{name} must be a subclass of nn.Module: class {name}(nn.Module)")
    try:
        module = cls(*args, **kwargs)
    except NotImplementedError as e:
        raise _NotImplemented(_raised_in(e, cls)) from None
    except AttributeError as e:
        if "before Module.__init__() call" in str(e):
            raise Fail(f"{name}.__init__ must call super().__init__() before it creates any layer") from None
        raise Fail(f"{name}({', '.join(map(repr, args))}) raised AttributeError{where(e, cls)}: {e}{_meaning(e)}"
                   ) from None
    except Exception as e:
        raise Fail(f"{name}({', '.join(map(repr, args))}) raised {type(e).__name__}{where(e, cls)}: {e}"
                   f"{_meaning(e)}") from None
    return module.eval()


def randomize(module, seed=0):
    """Give every parameter of `module` random values (norm weights around 1), in place; returns it."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.3 * noise if name.rsplit(".", 1)[-1] == "weight" and p.dim() == 1 else 0.3 * noise)
    return module


def load(c, mine, reference, layout, ordered=False):
    """Copy the reference's parameters into the student's module by name. `layout` describes the names;
    ordered=True: the exercise also asks for the layers to be created in the layout's order (the seeded
    initialisation, and so the chapter's numbers, follow that order)."""
    c.count += 1
    want = dict(reference.named_parameters())
    have = dict(mine.named_parameters())
    if ordered and set(want) == set(have) and list(want) != list(have):
        order = list(dict.fromkeys(n.split(".")[0] for n in want))
        raise Fail(f"your module creates its layers in another order than the exercise's ({', '.join(order)}): "
                   "create them in that order — the seeded initialisation follows it")
    missing = [n for n in want if n not in have]
    extra = [n for n in have if n not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append("it has no parameter " + ", ".join(f"`{n}`" for n in missing[:4])
                         + (" …" if len(missing) > 4 else ""))
        if extra:
            parts.append("it has parameters the layout does not: " + ", ".join(f"`{n}`" for n in extra[:4])
                         + (" …" if len(extra) > 4 else ""))
        raise Fail(f"your module's parameters do not follow the exercise's layout: {'; '.join(parts)} — "
                   f"the layout is {layout}")
    for n, p in want.items():
        if have[n].shape != p.shape:
            raise Fail(f"`{n}` has shape {tuple(have[n].shape)}, expected {tuple(p.shape)} — the layout is {layout}")
    with torch.no_grad():
        for n, p in want.items():
            have[n].copy_(p)
    return mine


def forward(c, module, *args, what="your forward", **kwargs):
    """module(*args, **kwargs) on copies of the tensors; fails if it changed one of them in place."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    kw = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    try:
        out = module(*copies, **kw)
    except NotImplementedError as e:
        raise _NotImplemented(_raised_in(e, type(module))) from None
    except Exception as e:
        raise Fail(f"{what} raised {type(e).__name__}{where(e, type(module))}: {e}{_meaning(e)}") from None
    for given, kept in zip(copies, args):
        if isinstance(given, torch.Tensor) and not _unchanged(given, kept):
            raise Fail(f"{what} changed its input in place (x += … or an in-place method such as add_): the "
                       "caller's tensor is overwritten — write x = x + … instead")
    return out


def pair(c, out, what="your forward", second="weights"):
    """Unpack the (tensor, second) pair a forward returns, or say what came back instead."""
    if isinstance(out, torch.Tensor):
        raise Fail(f"{what} returned one tensor; return a pair (out, {second}) — (out, None) when there are "
                   f"no {second} to return")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail(f"{what} must return a pair (out, {second}), got {type(out).__name__}"
                   + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    return out


def _kick(shape):
    """A random change of size ~3 (not a constant: a layer norm would cancel a constant shift)."""
    return 3.0 * torch.randn(shape, generator=torch.Generator().manual_seed(3))


def future_probe(c, run, x, what="your output"):
    """run(x) -> (B, T, d). Position t must not change when a later position of x changes."""
    c.count += 1
    base = run(x)
    later = x.clone()
    later[:, -1] += _kick(later[:, -1].shape)
    moved = (run(later) - base)[:, :-1].abs().amax(dim=(0, 2))
    if moved.max() > 1e-4:
        first = int((moved > 1e-4).nonzero()[0])
        if first == x.size(1) - 2:
            raise Fail(f"{what} at position {first} changes when only the next position's input changes: each "
                       "position sees one step ahead — the causal mask is off by one (the diagonal above the "
                       "main one is allowed too)")
        raise Fail(f"{what} at position {first} changes when only the last position's input changes: positions "
                   "see the future — the causal mask is missing, the wrong way round (True marks the keys s ≤ t "
                   "that query t may see), or does not reach this attention")


def padding_probe(c, run, x, real, what="your output", queries=None):
    """run(x) -> (B, T, d) with real (B, S) True = real key. Changing padded keys must not move the outputs
    of the real queries: queries (B, T) bool, by default `real` itself (self-attention, T = S)."""
    c.count += 1
    base = run(x)
    changed = x.clone()
    changed[~real] += _kick(changed[~real].shape)
    moved = (run(changed) - base)[real if queries is None else queries]
    if moved.abs().max() > 1e-4:
        raise Fail(f"{what} changes when only the [PAD] positions change: the padded keys still get attention "
                   "weight — pass the mask on to the attention (and keep True = may attend)")


def dropout_probe(c, make, run, what="your module"):
    """make(p) builds the module with dropout p (weights loaded); run(module) -> output tensor.

    In eval mode the output must equal the p = 0 module's; in train mode it must differ from it."""
    c.count += 1
    plain, dropping = make(0.0).eval(), make(0.5).eval()
    fixed = sorted({layer.p for layer in dropping.modules()  # 0: an attention inside, built without dropout
                    if isinstance(layer, nn.Dropout) and layer.p not in (0.0, 0.5)})
    if fixed:
        raise Fail(f"{what} built with dropout=0.5 has an nn.Dropout with p={fixed[0]}: pass the argument on, "
                   "nn.Dropout(dropout), rather than a fixed rate")
    with torch.no_grad():
        same = run(plain)
        if not torch.allclose(run(dropping), same, atol=1e-5):
            raise Fail(f"{what} gives another output in eval mode when dropout > 0: dropout must be off after "
                       "model.eval() — use the layout's nn.Dropout layer (self.dropout), which follows the mode")
        dropping.train()
        if torch.allclose(run(dropping), same, atol=1e-5):
            raise Fail(f"{what} never applies dropout in training mode: create nn.Dropout(dropout) in __init__ "
                       "and apply it where the exercise says")


def gradient_probe(c, mine, reference, run, what="your module"):
    """run(module) -> output tensor. The gradients of a random projection of it must agree, parameter by parameter."""
    c.count += 1
    for module in (mine, reference):
        module.zero_grad()
    out_mine, out_ref = run(mine), run(reference)
    if not out_mine.requires_grad:
        raise Fail(f"{what}'s output carries no gradient: forward must not run under torch.no_grad() or "
                   ".detach() its result")
    r = torch.randn(out_ref.shape, generator=torch.Generator().manual_seed(7))
    (out_mine * r).sum().backward()
    (out_ref * r).sum().backward()
    theirs = dict(reference.named_parameters())
    for name, p in mine.named_parameters():  # an unused parameter first: it explains every other difference
        g, want = p.grad, theirs[name].grad
        if want is not None and (g is None or (g.abs().max() == 0 and want.abs().max() > 0)):
            raise Fail(f"no gradient reaches `{name}`: it is unused in forward, or its path is cut by .detach(), "
                       ".data or torch.no_grad()")
    for name, p in mine.named_parameters():
        g, want = p.grad, theirs[name].grad
        if want is not None and not torch.allclose(g, want, atol=1e-4, rtol=1e-3):
            raise Fail(f"the gradient of `{name}` differs from the reference's although the outputs agree: "
                       "something in forward is detached or computed outside autograd (.data, .item(), numpy)")


def dropout_calls(c, module, run, expected, what="your module", where="to each sub-layer's output"):
    """run(module) calls forward once; module.dropout (the layout's nn.Dropout) must run `expected` times."""
    c.count += 1
    drop = getattr(module, "dropout", None)
    if not isinstance(drop, nn.Dropout):
        raise Fail(f"{what} has no `self.dropout = nn.Dropout(dropout)`, which the layout asks for")
    calls = []
    handle = drop.register_forward_hook(lambda *_: calls.append(1))
    try:
        with torch.no_grad():
            run(module)
    finally:
        handle.remove()
    if len(calls) != expected:
        raise Fail(f"{what} applies self.dropout {len(calls)} time{'s' * (len(calls) != 1)} in one forward, where "
                   f"the exercise asks for {expected}: apply it {where}")


def device_probe(c, module, *args, what="your forward"):
    """Run a copy of the module on PyTorch's "meta" device (shapes only, no data): a tensor that forward
    creates on the CPU (a mask built without device=) then collides with the input's device, as on a GPU.
    A lookup table (nn.Embedding) on "meta" accepts CPU ids without a word, so the ids each table gets
    (positions from torch.arange(T) …) are looked at too."""
    c.count += 1
    try:
        meta = copy.deepcopy(module).to("meta")
        meta_args = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
    except Exception:  # a module that cannot move: nothing to learn here
        return
    cpu_ids = []
    for name, table in meta.named_modules():
        if isinstance(table, nn.Embedding):
            table.register_forward_pre_hook(
                lambda _, given, name=name: cpu_ids.append(name) if given[0].device.type != "meta" else None)
    try:
        with torch.no_grad():
            meta(*meta_args)
    except Exception as e:
        if "device" in str(e) and ("cpu" in str(e) or "meta" in str(e)):
            raise Fail(f"{what} makes a tensor on the CPU while its input is elsewhere (on a GPU this fails with "
                       "'expected all tensors to be on the same device'): create it on the input's device, "
                       "with device=x.device") from None
    if cpu_ids:
        raise Fail(f"{what} makes the ids for `self.{cpu_ids[0]}` on the CPU while the input may be elsewhere (on "
                   "a GPU the lookup fails with 'expected all tensors to be on the same device'): create them on "
                   "the input's device, with device=ids.device (or zeros_like)")
