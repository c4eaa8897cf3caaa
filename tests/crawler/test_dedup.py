"""Reposts are recognised as the same story; different stories about the same place are not."""

from crawler.dedup import MIN_LETTERS, SAME_STORY, similarity, sketch
from stories import DRILL as OTHER
from stories import REPOST, STORY


def test_repost_is_the_same_story() -> None:
    assert similarity(sketch(STORY), sketch(REPOST)) >= SAME_STORY
    assert similarity(sketch(STORY), sketch(STORY)) == 1.0


def test_a_different_story_is_not() -> None:
    assert similarity(sketch(STORY), sketch(OTHER)) < 0.2
    assert similarity(sketch(""), sketch(STORY)) == 0.0


def test_sketch_is_small_and_stable() -> None:
    long = STORY * 40 + OTHER * 40
    assert len(sketch(long)) == 128 and sketch(long) == sketch(long)


def test_one_liners_never_match() -> None:
    assert sketch("化隆二幼乱收费？") == [] and sketch("化" * (MIN_LETTERS - 1)) == []
    assert similarity(sketch("化隆二幼乱收费？"), sketch("化隆二幼乱收费！")) == 0.0
