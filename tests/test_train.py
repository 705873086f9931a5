import pytest
import torch
import torch.nn as nn

from course_lib import train


def _problem():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1)
    loss_fn = lambda m, b: ((m(b[0]) - b[1]) ** 2).mean()  # noqa: E731
    return model, loss_fn, (lambda step: (x, y))


def test_train_learns_and_records():
    model, loss_fn, get_batch = _problem()
    h = train.train(model, loss_fn, get_batch, steps=200, lr=0.05, progress=False,
                    eval_fn=lambda m: {"loss": loss_fn(m, get_batch(0)).item()}, eval_every=50)
    assert h.steps_done == 200 and len(h.train_loss) == 200
    assert [e["step"] for e in h.evals] == [50, 100, 150, 200]
    assert h.last("loss") < 0.01 < h.train_loss[0]
    assert h.best("loss") == min(e["loss"] for e in h.evals)
    assert h.curve("loss")[0] == [50, 100, 150, 200]
    assert not model.training


def test_train_is_deterministic():
    runs = []
    for _ in range(2):
        train.seed_everything(3)
        model, loss_fn, get_batch = _problem()
        runs.append(train.train(model, loss_fn, get_batch, steps=20, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_time_budget_stops_early():
    model, loss_fn, get_batch = _problem()
    h = train.train(model, loss_fn, get_batch, steps=10_000_000, time_budget=0.2, progress=False,
                    eval_fn=lambda m: {"x": 1.0})
    assert h.stopped_by_time and h.steps_done < 10_000_000 and h.evals[-1]["step"] == h.steps_done


def test_bad_input():
    model, loss_fn, get_batch = _problem()
    with pytest.raises(ValueError):
        train.train(model, loss_fn, get_batch, steps=0)
    with pytest.raises(FloatingPointError, match="learning rate"):
        train.train(model, lambda m, b: m(b[0]).sum() * float("nan"), get_batch, steps=3, progress=False)


def test_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(train.THREADS_ENV, "1")
        assert train.set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv(train.THREADS_ENV)
        n = train.set_threads()
        assert 1 <= n <= max(1, (torch.get_num_threads() * 2))
    finally:
        torch.set_num_threads(before)


def test_device():
    assert train.choose_device().type in ("cpu", "cuda", "mps")


def test_adamw_decays_only_matrices():
    model = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
    opt = train.adamw(model, lr=0.1, weight_decay=0.5)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] == 0.5 for p in g["params"]}
    assert decayed == {id(model[0].weight), id(model[2].weight)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_progress_bar_outside_a_notebook_is_a_plain_bar():
    assert list(train.progress_bar(range(3), desc="x")) == [0, 1, 2]


def test_decay_lowers_the_learning_rate_linearly_to_zero():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.4)
    seen = []

    def loss_fn(m, batch):
        seen.append(optimizer.param_groups[0]["lr"])
        return m(batch).pow(2).mean()

    train.train(model, loss_fn, lambda step: torch.ones(3, 2), steps=4, optimizer=optimizer, decay=True,
                progress=False)
    assert seen == pytest.approx([0.4, 0.3, 0.2, 0.1])
