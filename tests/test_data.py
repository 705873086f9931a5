import pytest

from course_lib import data

EXPECTED_LINES = {"zh_poems_5jue_train": 3591, "zh_poems_5jue_val": 200, "zh_sentiment_train": 6800,
                  "zh_sentiment_val": 1000, "zh_sentiment_test": 1000, "zh_reviews_unlabeled": 3256}


@pytest.mark.parametrize("name,n", EXPECTED_LINES.items())
def test_sizes_match_sources(name, n):
    assert len(data.load_lines(name)) == n


def test_labeled_and_attribution():
    texts, labels = data.load_labeled("zh_sentiment_val")
    assert len(texts) == 1000 and sorted(set(labels)) == [0, 1] and sum(labels) == 500
    assert all("\t" not in t for t in texts)
    for name in data.names():
        assert data.attribution(name)
    assert "CC BY 4.0" in data.attribution("en_sentiment_train")


def test_poems_are_24_characters():
    assert {len(p) for p in data.load_lines("zh_poems_5jue_val")} == {24}


def test_licences_are_shipped():
    assert (data.DATA_DIR / "SOURCES.md").exists()
    assert (data.DATA_DIR / "licenses" / "chinese-poetry_LICENSE.txt").exists()
    assert (data.DATA_DIR / "licenses" / "snownlp_LICENSE.txt").exists()
    assert (data.DATA_DIR / "fonts" / "OFL.txt").exists()


def test_clear_errors():
    with pytest.raises(FileNotFoundError, match="the course ships"):
        data.load_lines("no_such_set")
    with pytest.raises(ValueError, match="no labels"):
        data.load_labeled("zh_poems_5jue_val")


def test_balanced_rows_draws_half_of_each_class_reproducibly():
    labels = [0] * 30 + [1] * 20
    rows = data.balanced_rows(labels, 10, seed=3)
    assert len(set(rows)) == 10 and sorted(labels[i] for i in rows) == [0] * 5 + [1] * 5
    assert rows == data.balanced_rows(labels, 10, seed=3) and rows != data.balanced_rows(labels, 10, seed=4)
