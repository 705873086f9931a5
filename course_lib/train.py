"""Seeds, devices, threads, and one training loop with a progress bar and a budget."""
import os
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch

THREADS_ENV = "COURSE_THREADS"


def seed_everything(seed=0):
    """Seed Python, NumPy and PyTorch so that a chapter gives the same numbers every run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_device():
    """A GPU when there is one (CUDA, then Apple's MPS), otherwise the CPU. Nothing needs a GPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_threads(threads=None):
    """Give PyTorch half the cores (at least one), or COURSE_THREADS if set. Returns the count.

    With as many threads as cores, one busy neighbour (another notebook, a browser) makes every matrix
    product wait for a descheduled thread: measured ~56x slower on a 2-core machine, against ~1.5x for
    using one thread. Half the cores cannot fall into that trap.
    """
    if threads is None:
        threads = int(os.environ.get(THREADS_ENV, "0")) or None
    if threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cores = os.cpu_count() or 1
        threads = max(1, cores // 2)
    torch.set_num_threads(threads)
    return threads


@dataclass
class History:
    """What a training run did: one loss per step, evaluations as dicts with their "step"."""

    train_loss: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    seconds: float = 0.0
    steps_done: int = 0
    stopped_by_time: bool = False

    def last(self, key):
        """The latest evaluated value of `key`."""
        return self.evals[-1][key]

    def best(self, key, mode="min"):
        """The best evaluated value of `key` (smallest for mode="min", largest for "max")."""
        values = [e[key] for e in self.evals]
        return min(values) if mode == "min" else max(values)

    def curve(self, key):
        """(steps, values) of an evaluated quantity, ready for plot.curves."""
        return [e["step"] for e in self.evals], [e[key] for e in self.evals]


def adamw(model, lr=1e-3, weight_decay=0.0):
    """AdamW whose weight decay pulls only on weight matrices and embedding tables (tensors of 2 or more
    dimensions), as nanoGPT and the original BERT do: biases and layer-norm gains and shifts are left free."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)


def progress_bar(iterable=None, *, total=None, desc=None, unit="steps"):
    """A progress bar over `iterable` (or for `total` manual `.update()`s): a widget in Jupyter, text elsewhere.

    In a notebook the bar's plain-text stand-in is fixed ("desc: 400 steps"), so a stored output never holds
    a percentage or a speed that changes from run to run, and nbval can compare the cell like any other.
    """
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm_notebook

    # One refresh a second at most: a notebook bar sends messages to the browser on every refresh, and
    # thousands of them can overflow the kernel's output queue (nbval then loses the end of the cell).
    options = dict(total=total, desc=desc, leave=True, mininterval=1.0)
    if not issubclass(tqdm, tqdm_notebook):
        return tqdm(iterable, **options)
    bar = tqdm(iterable, display=False, **options)
    bundle = getattr(bar.container, "_repr_mimebundle_", None)
    if bundle is None:  # an ipywidgets without the display protocol (7.x): let the widget show itself
        bar.container._ipython_display_()
    else:
        from IPython.display import display

        data = bundle()
        data["text/plain"] = f"{desc or 'progress'}: {bar.total} {unit}"
        display(data, raw=True)
    bar.displayed = True
    return bar


def train(model, loss_fn, get_batch, *, steps, lr=1e-3, weight_decay=0.0, clip=1.0, optimizer=None, decay=False,
          eval_fn=None, eval_every=None, time_budget=None, desc="training", progress=True):
    """Train `model` for `steps` steps (or until `time_budget` seconds pass) and return a History.

    get_batch(step) -> batch; loss_fn(model, batch) -> scalar loss tensor;
    eval_fn(model) -> dict of numbers, run under no_grad in eval mode every `eval_every` steps and at the end.
    The optimizer defaults to `adamw(model, lr, weight_decay)` (no decay on biases and layer norms); gradients
    are clipped to norm `clip` (None: no clipping). decay=True lowers every learning rate linearly to 0 over the
    steps: the last steps make small moves, so the final weights settle instead of jittering around a minimum.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    optimizer = optimizer or adamw(model, lr, weight_decay)
    history = History()
    bar = progress_bar(total=steps, desc=desc) if progress else None
    start = time.perf_counter()

    def evaluate(step):
        model.eval()
        with torch.no_grad():
            history.evals.append({"step": step, **eval_fn(model)})
        model.train()
        if bar is not None:
            bar.set_postfix({k: f"{v:.3g}" for k, v in history.evals[-1].items() if k != "step"})

    base_lrs = [group["lr"] for group in optimizer.param_groups]
    model.train()
    for step in range(1, steps + 1):
        if decay:
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * (1 - (step - 1) / steps)
        loss = loss_fn(model, get_batch(step))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}: lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        history.train_loss.append(loss.item())
        history.steps_done = step
        if bar is not None:
            bar.update(1)
        if eval_fn is not None and eval_every and step % eval_every == 0:
            evaluate(step)
        if time_budget is not None and time.perf_counter() - start > time_budget and step < steps:
            history.stopped_by_time = True
            break
    if eval_fn is not None and (not history.evals or history.evals[-1]["step"] != history.steps_done):
        evaluate(history.steps_done)
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    if history.stopped_by_time:
        print(f"{desc}: stopped by the time budget after {history.steps_done} of {steps} steps")
    model.eval()
    return history
