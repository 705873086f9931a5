"""course_lib: the small library behind "From One-Hot to GPT".

One module per idea: text, data, rnn, attention, bert, gpt, train, plot, diagrams, check, editions.
Every notebook starts with `device = course_lib.setup(seed=0)`.
"""
__version__ = "0.1.0"


def setup(seed=0, threads=None):
    """Prepare a chapter: threads, seeds, the CJK font and stable text for figures.
    Prints one line; returns the device."""
    import platform

    import torch

    from . import plot, train

    n = train.set_threads(threads)
    train.seed_everything(seed)
    plot.use_cjk_font()
    plot.plain_figure_text()
    device = train.choose_device()
    print(f"course_lib {__version__} · Python {platform.python_version()} · torch {torch.__version__} · "
          f"device {device} · {n} CPU thread{'s' if n > 1 else ''} · seed {seed}")
    return device
