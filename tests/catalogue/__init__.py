"""A catalogue of answers a student could hand in, per exercise: the checks must fail every wrong one with a
message that names the mistake, and pass every right one written another way than the reference.

One module per chapter (ch01 … ch08) registers its answers with two decorators:

    @wrong("softmax", "wrong axis")        # the check must fail, and its message contain "wrong axis"
    def softmax(x):
        return torch.exp(x) / torch.exp(x).sum(0, keepdim=True)

    @right("softmax")                      # the check must pass
    def softmax(x):
        return torch.exp(x - torch.logsumexp(x, -1, keepdim=True))

Each answer is written as a student would write it (a def or a class, under the exercise's own name), so
line numbers and tracebacks look as they do in a notebook. `tools/catalogue.py` prints the figures.
"""
import importlib
import inspect
from dataclasses import dataclass

CHAPTERS = ["ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08"]
GENERIC = ("differs from the reference", "the check could not run")


@dataclass
class Answer:
    exercise: str   # the check's name, e.g. "softmax"
    fn: object      # the student's function or class
    phrase: str     # wrong answers: what the message must contain; right answers: ""
    chapter: str

    @property
    def right(self):
        return not self.phrase

    @property
    def id(self):
        """e.g. "ch03-softmax-wrong-L12": chapter, exercise, kind and the answer's line in its module."""
        return f"{self.chapter}-{self.exercise}-{'right' if self.right else 'wrong'}-L{_line(self.fn)}"


def _line(fn):
    """The line an answer starts on (for a class, its first method's: getsourcelines finds the first class
    of that name in the module, and every answer is named alike)."""
    if isinstance(fn, type):
        methods = [v for v in vars(fn).values() if hasattr(v, "__code__")]
        if methods:
            return min(m.__code__.co_firstlineno for m in methods)
    return inspect.getsourcelines(fn)[1]


ANSWERS = []


def _register(exercise, phrase):
    def add(fn):
        chapter = fn.__module__.rsplit(".", 1)[-1]
        ANSWERS.append(Answer(exercise, fn, phrase, chapter))
        return fn
    return add


def wrong(exercise, phrase):
    """Register a wrong answer: check.<exercise>(fn) must fail, naming the mistake with `phrase`."""
    assert phrase, "a wrong answer needs the phrase its message must contain"
    return _register(exercise, phrase)


def right(exercise):
    """Register a right answer written differently from the reference: check.<exercise>(fn) must pass."""
    return _register(exercise, "")


def generic(message):
    """True for a message that does not say what is wrong: "differs from the reference", a check that could
    not run, or a raw error without an explanation after it."""
    return any(g in message for g in GENERIC) or (" raised " in message and " — " not in message)


def load(chapters=None):
    """Every chapter's answers, or those of `chapters` (importing the modules registers them)."""
    for chapter in chapters or CHAPTERS:
        try:
            importlib.import_module(f"{__name__}.{chapter}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{chapter}":
                raise
    return [a for a in ANSWERS if a.chapter in (chapters or CHAPTERS)]
