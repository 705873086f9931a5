"""Does training reach through the student's function? Its gradients, compared with a reference's.

A function can return the right numbers and still stop learning: computed under torch.no_grad(), or with
something detached on the way (h.detach() in a loop, weights.detach(), .item() and back). `probe` reruns the
function and a differentiable reference on the same inputs, every float input a leaf that requires a
gradient, pulls one random direction back through both, and compares the gradients input by input.
"""
import torch


def _floats(value):
    """The float tensors of a result: a tensor, or the tensors of a tuple or list."""
    values = value if isinstance(value, (tuple, list)) else [value]
    return [v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()]


def probe(fn, reference, args, kwargs, names):
    """The message for a gradient that does not reach an input as the reference's does, or None. names: what
    to call each positional argument and keyword (`x`, `W` …). A rerun that fails is not judged here."""
    def leaves():
        return [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point()
                else a for a in args]
    mine, theirs = leaves(), leaves()
    try:
        with torch.enable_grad():
            got, want = _floats(fn(*mine, **kwargs)), _floats(reference(*theirs, **kwargs))
    except Exception:
        return None
    if not want or len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
        return None
    if not any(g.requires_grad for g in got):
        return ("no gradient flows through your result: it was computed under torch.no_grad() or detached "
                "(.detach(), .data, a round trip through .item() or .tolist()), so training could not learn "
                "through it")
    directions = [torch.randn(w.shape, generator=torch.Generator().manual_seed(i)) for i, w in enumerate(want)]
    inputs = [(n, a, b) for n, a, b in zip(names, mine, theirs) if isinstance(a, torch.Tensor) and a.requires_grad]
    pull = lambda outs, xs: torch.autograd.grad(  # noqa: E731
        sum((o * d).sum() for o, d in zip(outs, directions) if o.requires_grad), xs, allow_unused=True)
    grads_mine = pull(got, [a for _, a, _ in inputs])
    grads_ref = pull(want, [b for _, _, b in inputs])
    for (name, _, _), g, r in zip(inputs, grads_mine, grads_ref):
        if r is None or not r.abs().max() > 0:
            continue
        if g is None or not g.abs().max() > 0:
            return (f"no gradient reaches {name} through your result: something on the way from {name} is "
                    "detached (.detach(), .data, torch.no_grad(), .item() or .tolist() and back), so training "
                    f"could not learn through it")
        if not torch.allclose(g, r, rtol=1e-3, atol=1e-4 * float(r.abs().max())):
            return (f"your result is right, but its gradient with respect to {name} is not: part of the path "
                    f"from {name} is detached or cut (h.detach() in a loop, weights.detach(), a value taken "
                    "through .item()), so training would learn the wrong thing")
    return None
