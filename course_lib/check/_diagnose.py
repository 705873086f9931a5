"""Where and how a wrong answer differs from the reference — probes every check uses, so that a mistake
nobody foresaw still gets a message that says something specific:

    explain_error(e)                  what a PyTorch or Python error raised in the student's code usually means
    relation(out, expected, ...)      how the two relate: sign, a constant factor (√d, 1/d …), an offset, a
                                      constant per row, a missing or extra normalisation or softmax,
                                      transposed, shifted by one, slices (heads …) in another order,
                                      the right numbers in the wrong places
    location(out, expected, ...)      where they differ: which batch elements, rows, steps or heads, padded or
                                      real positions, on or above the diagonal

`axes` names the axes of the result for the messages, e.g. ("batch", "query", "key") (a square result is
looked at by its diagonal only when its axes are not named, or the last is a "key" axis); `padded` (a bool
tensor that broadcasts to the result) marks padded positions; `sizes` ({"d_k": 8, …}) names the widths a
constant factor is tried against.
"""
import math
import re

import torch

# --- errors -------------------------------------------------------------------------------------------------

_ERRORS = [  # (pattern in the error text, explanation; {0}, {1} … are the pattern's groups)
    (r"torch\.return_types\.(max|min)\b",
     "torch.{0}(x, dim=…) returns a pair (values, indices), not a tensor: take its .values, or use "
     "amax / amin, which return the values alone"),
    (r"argument 'input' \(position 1\) must be Tensor, not (int|float)",
     "a torch function was given a plain Python number ({0}): torch.sqrt, torch.exp … take tensors; for a "
     "number use the math module (math.sqrt, math.exp) or ** 0.5"),
    (r"mask must be a bool tensor \(True = may attend\), got a (bool|int|float)",
     "a number arrived as the mask: an argument in the wrong place — MultiHeadAttention's forward is (x, "
     "context=None, mask=None, need_weights=False), so pass mask=… and need_weights=… by keyword"),
    (r"both arguments to matmul need to be at least 1D",
     "one side of @ is a single number (a 0-d tensor, e.g. a sum or .max() without an axis): @ pairs up "
     "vectors and matrices; scale with * or /, or keep the axis you reduced over"),
    (r"batch[12] must be a 3D tensor",
     "torch.bmm takes exactly 3-D tensors (batch, n, m): the @ operator (torch.matmul) works with any "
     "number of leading axes, and with none"),
    (r"with a bool tensor is not supported",
     "a bool tensor (a mask) does not do arithmetic: invert it with ~mask (or logical_not), and turn it "
     "into numbers with .float() first"),
    (r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)",
     "a matrix product A @ B needs A's last size to equal B's first, here {1} and {2}: one of the two is "
     "transposed, or it is not the tensor you meant"),
    (r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at non-singleton dimension (\d+)",
     "two tensors with sizes {0} and {1} on the same axis were combined element by element; broadcasting lines "
     "axes up from the right, so look for a reduction without keepdim=True, a missing transpose, or the "
     "wrong tensor"),
    (r"Expected size for first two dimensions of batch2 tensor to be: \[(\d+), (\d+)\] but got: \[(\d+), (\d+)\]",
     "a batched matrix product needs the inner sizes to agree ({1} against {3}): is one side transposed?"),
    (r"Dimension out of range \(expected to be in range of \[(-?\d+), (-?\d+)\], but got (-?\d+)\)",
     "you asked for axis {2} of a tensor with {1_plus} axes; count axes from the end (dim=-1, -2) so the code "
     "works with and without a batch axis in front"),
    (r"shape '\[([\d, -]*)\]' is invalid for input of size (\d+)",
     "the sizes given to view/reshape ({0}) do not multiply to the tensor's {1} elements: check which sizes "
     "you passed, and their order"),
    (r"view size is not compatible with input tensor's size and stride",
     "view() cannot follow a transpose or permute (the memory is no longer in order): call .contiguous() "
     "first, or use .reshape()"),
    (r"must have the same dtype|expected scalar type|expected m1 and m2 to have the same dtype|"
     r"Found dtype \w+ but expected",
     "two tensors of different dtypes met (float64 against float32, or an integer tensor): keep everything "
     "float32, and make integer tensors float (.float()) before arithmetic"),
    (r"Expected all tensors to be on the same device",
     "a tensor made inside the function lives on another device than the input: create it with "
     "device=x.device"),
    (r"Class values must be non-negative|index -\d+ is out of bounds|ids must lie in 0\.\.\d+, got -",
     "an id below 0: ids run from 0 to V − 1 and pick their row or column as they are — is something "
     "subtracted from them?"),
    (r"unsupported operand type\(s\) for .*'NoneType'",
     "one side of the operation is None: an argument that was never given, or given in the wrong place (pass "
     "it by keyword), or a function that does not return its result"),
    (r"index out of range in self|index \d+ is out of bounds",
     "an index is at least the size of the table or axis it picks from: check the ids against the sizes"),
    (r"Boolean value of Tensor with more than one value is ambiguous",
     "an `if`, `and`, `or` or `not` met a tensor with several values: compute with masks and torch.where, "
     "or say what you mean with .any() / .all()"),
    (r"tensors used as indices must be long|only integer tensors of a single element can be converted",
     "an index tensor must hold integers (torch.long) or booleans: a float tensor cannot pick elements"),
    (r"masked_fill_? only supports boolean masks",
     "masked_fill wants a bool mask (True = fill here); compare to get one, e.g. mask == 0"),
    (r"a leaf Variable that requires grad is being used in an in-place operation|"
     r"modified by an inplace operation",
     "an in-place operation (x += …, add_, masked_fill_, x[...] = …) on a tensor autograd needs: compute a new "
     "tensor instead"),
    (r"Can't call numpy\(\) on Tensor that requires grad",
     "numpy() leaves PyTorch, and autograd with it: stay with torch operations"),
    (r"Sizes of tensors must match except in dimension|Tensors must have same number of dimensions|"
     r"stack expects each tensor to be equal size",
     "the pieces joined by torch.cat or torch.stack do not have matching shapes: cat joins along an existing "
     "axis, stack makes a new one"),
    (r"takes (\d+) positional arguments? but (\d+) (?:was|were) given|missing \d+ required positional argument|"
     r"got an unexpected keyword argument",
     "the function's signature is not the exercise's: keep the arguments as the exercise's cell defines them"),
    (r"name '(\w+)' is not defined",
     "the name is unknown where your code runs: import or define it first, or use the function's own "
     "arguments (the check passes its own tensors, not the notebook's variables)"),
    (r"'NoneType' object",
     "something in your code is None: a helper without a `return`, or an in-place method's result "
     "(list.sort(), …) used as a value"),
    (r"result type (\w+) can't be cast to the desired output type (\w+)",
     "an in-place operation (+=, *=, add_, index_put_ …) tried to store {0} values in a {1} tensor, and an "
     "in-place result keeps the tensor's dtype: make the tensor floating point from the start "
     "(dtype=torch.float32, or .float())"),
    (r"probability tensor contains either `inf`, `nan` or element < 0",
     "torch.multinomial was given a row that is not a probability distribution (weights below 0, inf or NaN): "
     "hand it each row's softmax, not logits or log-probabilities — and make sure no row is masked "
     "entirely (a threshold taken over the whole batch instead of each row can hide every token of a row)"),
    (r"invalid multinomial distribution \(sum of probabilities <= 0\)",
     "torch.multinomial was given a row whose weights are all 0: every row needs some probability left"),
    (r"cannot be converted to Scalar|only one element tensors can be converted",
     "a tensor of several values was used as one number (.item(), int(), an if): with a batch, compare element "
     "by element and combine with .all() / .any()"),
    (r"invalid index of a 0-dim tensor",
     "a reduction without dim= (argmax(), sum()) gave a single number: give it the axis, e.g. dim=-1"),
    (r"(?:not enough|too many) values to unpack|cannot unpack non-iterable",
     "the number of names on the left of `a, b = …` does not match what is on the right: check what the "
     "call returns (a tensor, a pair, a tensor's shape)"),
]


def product_error(m, n, p, q):
    """A regex for PyTorch's error of the product (m x n) @ (p x q), to name it in Checker.call(errors=)."""
    return re.escape(f"mat1 and mat2 shapes cannot be multiplied ({m}x{n} and {p}x{q})")


def explain_error(error):
    """What an error raised inside the student's code usually means, as a phrase, or ""."""
    text = str(error)
    for pattern, explanation in _ERRORS:
        m = re.search(pattern, text)
        if m:
            groups = list(m.groups())
            extra = {"1_plus": int(groups[1]) + 1} if "{1_plus}" in explanation else {}
            return explanation.format(*groups, **extra)
    return ""


# --- how the answer relates to the reference ------------------------------------------------------------


def _close(a, b, atol, rtol):
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol)


def _factor_name(r, sizes):
    """A readable name for the factor r: '1/√8 (1/√d_k)', '4', '-1' … or None if nothing simple fits."""
    named = {**{str(n): n for n in range(2, 4097)}, **{k: v for k, v in (sizes or {}).items() if v > 1}}
    for label, n in sorted(named.items(), key=lambda kv: (kv[0].isdigit(), kv[1])):
        of = (lambda t: "") if label.isdigit() else (lambda t: f" ({t})")
        forms = ((n, f"{n}{of(label)}"), (1 / n, f"1/{n}{of('1/' + label)}"),
                 (math.sqrt(n), f"√{n}{of('√' + label)}"), (1 / math.sqrt(n), f"1/√{n}{of('1/√' + label)}"))
        for value, text in forms:
            if abs(r - value) <= 1e-3 * abs(value):
                return text
    return None


def _axis_name(axes, i, ndim):
    if axes and len(axes) == ndim and axes[i]:
        return axes[i]
    return {ndim - 1: "column (last axis)", ndim - 2: "row"}.get(i, f"axis {i}")


def _sums_to_one(x, dim):
    one = torch.ones((), dtype=x.dtype)
    return x.size(dim) > 1 and bool((x >= 0).all()) and torch.allclose(x.sum(dim), one, atol=1e-4)


def relation(out, expected, *, axes=None, sizes=None, atol=1e-5, rtol=1e-4):
    """How `out` relates to `expected` (same shape, both floating point), as a phrase, or None."""
    if out.shape != expected.shape or not out.is_floating_point() or out.numel() < 2:
        return None
    o, e = out.double(), expected.double()
    scale = max(e.abs().max().item(), 1e-12)
    a, r = atol + rtol * scale, rtol
    if torch.allclose(o, e, atol=atol, rtol=rtol):
        return None  # the same within the caller's tolerance: nothing to explain
    if e.abs().max() < atol:
        return "the reference is all zeros here, yours is not"
    if o.abs().max() < atol:
        return "yours is all zeros: a missing term, a mask that hides everything, or a result never filled in"
    finite = torch.isfinite(o) & torch.isfinite(e)
    if finite.any() and torch.equal(o[finite], o[finite].round()) and not torch.equal(e[finite], e[finite].round()):
        if _close(o, e.floor(), a, r):
            return "it is the reference rounded down to whole numbers: a floor division // where / belongs"
        if not ((o >= 0).all() and o.max() < max(o.shape)):  # (small counts look like indices: see below)
            return ("yours holds only whole numbers where the reference does not: an integer division (//), a "
                    "rounding, or an integer tensor on the way")
    if _close(o, -e, a, r):
        return "it has the opposite sign everywhere: a minus sign too many (or one missing)"
    k = (o * e).sum().item() / (e * e).sum().item()
    if abs(k - 1) > 1e-3 and _close(o, k * e, a, r):
        name = _factor_name(abs(k), sizes)
        sign = "-" if k < 0 else ""
        shown = f"{sign}{name}" if name else f"{k:.4g}"
        return f"it is the reference times {shown}: right up to a constant factor — a scale applied wrongly or " \
               "not at all, or one where none belongs"
    d = (o - e).mean().item()
    if abs(d) > a and _close(o - d, e, a, r):
        return f"it is the reference plus {d:.4g} everywhere: a constant added or left out"
    nd = out.dim()
    if nd >= 2 and o.size(-1) == o.size(-2) and _close(o.transpose(-2, -1), e, a, r):
        return "it is the reference transposed (rows and columns swapped)"
    for dim in range(nd):  # whole slices (heads, rows, batch elements) in another order
        n = o.size(dim)
        if not 2 <= n <= 64:
            continue
        os_, es = o.movedim(dim, 0).reshape(n, -1), e.movedim(dim, 0).reshape(n, -1)
        match = (torch.cdist(os_, es) <= a * math.sqrt(os_.size(1))).double()
        if (match.sum(1) >= 1).all() and (match.sum(0) >= 1).all():
            order = match.argmax(1).tolist()
            if order != list(range(n)) and sorted(order) == list(range(n)):
                shown = ", ".join(map(str, order[:8])) + (" …" if n > 8 else "")
                return f"the slices along the {_axis_name(axes, dim, nd)} axis are all there but in another " \
                       f"order (yours holds, in turn, the reference's {shown}): a reshape, view or permute " \
                       "that orders the axes differently"
    if _close(o.flatten().sort().values, e.flatten().sort().values, a, r):
        return "it holds exactly the reference's numbers, in other places: a reshape, view, transpose or " \
               "permute in the wrong order (view after a transpose does not move axes back)"
    for dim in range(nd):
        n = o.size(dim)
        if n < 3:
            continue
        for step, words in ((1, "one position later"), (-1, "one position earlier")):
            inner_o = o.narrow(dim, max(step, 0), n - 1)
            inner_e = e.narrow(dim, max(-step, 0), n - 1)
            if _close(inner_o, inner_e, a, r):
                return f"it is the reference shifted by one along the {_axis_name(axes, dim, nd)} axis (each " \
                       f"value sits {words} than it should): an index off by one"
    if o.size(-1) > 1 and _close(o - (o - e).mean(-1, keepdim=True), e, a, r):
        return "every row is off by its own constant (yours minus the reference is the same along each row): " \
               "something added to or subtracted from whole rows, such as a row's maximum, mean or log-sum"
    if nd >= 2 and _close(o - (o - e).mean(-2, keepdim=True), e, a, r):
        return "every column is off by its own constant (yours minus the reference is the same down each " \
               "column): something added per column, or a reduction over the wrong axis"
    for dim in range(nd):  # normalised along the wrong axis, or not at all
        if _sums_to_one(e, -1) and dim != nd - 1 and _sums_to_one(o, dim) and not _sums_to_one(o, -1):
            return f"yours sums to 1 along the {_axis_name(axes, dim, nd)} axis, the reference along the last " \
                   "axis (each row): normalised over the wrong axis"
    if _sums_to_one(e, -1) and not _sums_to_one(o, -1):
        if _close(torch.softmax(o, -1), e, a, r):
            return "these look like the scores before the softmax: the softmax (or the normalisation) is missing"
        rows = o.sum(-1, keepdim=True)
        if (rows.abs() > 1e-12).all() and _close(o / rows, e, a, r):
            return "each row is right up to a factor: the division by the row's sum is missing, so the rows " \
                   "do not add up to 1"
    ratio = o / torch.where(e.abs() > 1e-6, e, torch.ones_like(e))
    rows_alive = (o.abs().amax(-1) > a).all()  # a row of zeros is a place (location), not a factor
    if o.size(-1) > 1 and rows_alive and (e.abs() > 1e-6).all() and _close(ratio, ratio.mean(-1, keepdim=True).expand_as(ratio),
                                                             1e-4, 1e-4):
        return "every row is off by its own factor (yours divided by the reference is the same along each row): " \
               "each row was divided or multiplied by the wrong amount — a count, a sum or a norm per row"
    whole = (o == o.round()).all() and (o >= 0).all() and not (e == e.round()).all()
    if whole and o.max() < max(o.shape):
        return "yours holds whole numbers where the reference holds values — indices? torch.max(x, dim) and " \
               "torch.min return a pair (values, indices): take .values, or use amax / amin"
    if _close(torch.softmax(e, -1), o, a, r):
        return "yours is the softmax of the reference: a softmax too many (the reference is not normalised)"
    return None


# --- where it differs ----------------------------------------------------------------------------------------


def _indices(ix, n, noun):
    if ix == [0]:
        return f"the first {noun}"
    if ix == [n - 1]:
        return f"the last {noun}"
    if len(ix) == n - 1 and 0 not in ix:
        return f"every {noun} but the first"
    if len(ix) == n - 1 and n - 1 not in ix:
        return f"every {noun} but the last"
    return f"{noun}{'s' * (len(ix) > 1)} {', '.join(map(str, ix[:6]))}{' …' if len(ix) > 6 else ''}"


def location(out, expected, *, axes=None, padded=None, atol=1e-5, rtol=1e-4):
    """Where `out` differs from `expected` (same shape), as a phrase, or None when it is wrong everywhere."""
    if out.shape != expected.shape:
        return None
    o, e = out.double(), expected.double()
    bad = ~torch.isclose(o, e, atol=atol + rtol * e.abs().max().item(), rtol=rtol) if o.is_floating_point() \
        else o != e
    if not bad.any() or bad.all():
        return None
    nd = out.dim()
    if padded is not None:
        pad = padded.to(torch.bool).expand(out.shape) if padded.dim() <= nd else None
        if pad is not None and pad.any() and (~pad).any():
            if not (bad & ~pad).any():
                return "it is wrong only at the padded positions, right at the real ones: whatever the padding " \
                       "holds must not change the result there (mask it, or leave the reference's value)"
            if not (bad & pad).any():
                return "it is wrong at the real positions and right at the padded ones: the padding mask is " \
                       "used the other way round (True = real, or True = padded?) or it reaches the real positions"
    if nd >= 2 and out.size(-1) == out.size(-2) > 1 and (axes is None or "key" in str(axes[-1])):
        n = out.size(-1)
        diag = torch.eye(n, dtype=torch.bool).expand(out.shape)
        above = torch.ones(n, n, dtype=torch.bool).triu(1).expand(out.shape)
        if not (bad & ~diag).any():
            return "it is wrong only on the diagonal (each position with itself): the diagonal must be kept " \
                   "(or left out) as the reference does"
        if not (bad & ~above).any():
            return "it is wrong only above the diagonal, where a position meets later ones (the future)"
        if not (bad & above).any() and (bad & ~diag).any():
            return "it is wrong only on and below the diagonal: the positions up to and including each one"
    found = []
    for dim in range(nd):
        n = out.size(dim)
        if n < 2:
            continue
        hit = bad.movedim(dim, 0).reshape(n, -1).any(1)
        if not hit.all():
            ix = hit.nonzero().flatten().tolist()
            found.append((len(ix) / n, dim, ix))
    if not found:
        return None
    found.sort()
    batch = [f for f in found if _axis_name(axes, f[1], nd) == "batch" and 0 not in f[2]]
    if batch:  # only the first batch element is right: the most telling place of all
        found.remove(batch[0])
        found.insert(0, batch[0])
    noun = {"batch": "batch element"}
    phrases = [_indices(ix, out.size(dim), noun.get(_axis_name(axes, dim, nd), _axis_name(axes, dim, nd)))
               for _, dim, ix in found[:2]]
    words = " and ".join(phrases)
    first = found[0]
    advice = ""
    if _axis_name(axes, first[1], nd) == "batch" and 0 not in first[2]:
        advice = ": only the first element of the batch comes out right — an index [0] or a batch-of-one " \
                 "shortcut somewhere?"
    elif 0 in first[2] and len(first[2]) == 1 or first[2] == [out.size(first[1]) - 1]:
        advice = ": look at how the first or last one is handled (a loop's range, a slice's end)"
    return f"it is wrong only in {words}; the rest matches{advice}"


def explain(out, expected, **kw):
    """relation(...) or location(...), whichever says something, or None."""
    tol = {k: kw[k] for k in ("atol", "rtol") if k in kw}
    return (relation(out, expected, axes=kw.get("axes"), sizes=kw.get("sizes"), **tol)
            or location(out, expected, axes=kw.get("axes"), padded=kw.get("padded"), **tol))
