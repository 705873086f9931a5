"""The catalogue of student answers (tests/catalogue): every wrong answer fails with a message that names the
mistake, every right answer passes, and every exercise has at least 8 wrong and 2 right answers."""
from collections import Counter

import pytest

from catalogue import CHAPTERS, generic, load
from course_lib import check

ANSWERS = load()


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_answer(answer):
    result = getattr(check, answer.exercise)(answer.fn, quiet=True)
    if answer.right:
        assert result.status == "passed", result.message
    else:
        assert result.status == "failed", f"a wrong answer got {result.status}: {result.message}"
        assert answer.phrase in result.message, result.message
        assert not generic(result.message), result.message


def test_every_exercise_is_covered():
    wrong = Counter(a.exercise for a in ANSWERS if not a.right)
    right = Counter(a.exercise for a in ANSWERS if a.right)
    exercises = [name for ch in CHAPTERS for name in getattr(check, ch).__all__]
    short = {n: (wrong[n], right[n]) for n in exercises if wrong[n] < 8 or right[n] < 2}
    assert not short, f"exercises with fewer than 8 wrong or 2 right answers (wrong, right): {short}"
