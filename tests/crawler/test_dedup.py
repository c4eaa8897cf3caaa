"""Reposts are recognised as the same story; different stories about the same place are not."""

from crawler.dedup import SAME_STORY, similarity, sketch

STORY = ("11月24日下午，多名家长向本网反映，化隆二幼大班和中班部分幼儿在午餐后出现呕吐、腹痛等症状，"
         "家长陆续将孩子接回并送往县人民医院。园方表示已封存当日留样食品，配合县市场监管局调查。")
REPOST = ("【转】据化隆新闻网消息：11月24日下午，多名家长反映，化隆二幼大班、中班部分幼儿午餐后出现呕吐、腹痛等症状，"
          "家长陆续将孩子接回，送往县人民医院。园方表示，已封存当日留样食品，正配合县市场监管局调查。（来源：化隆新闻网）")
OTHER = ("化隆县第二幼儿园今天举行食物中毒应急演练，模拟幼儿午餐后呕吐送医的处置流程，"
         "县卫生健康局和市场监管局派员观摩指导，全体教职工参加。")


def test_repost_is_the_same_story() -> None:
    assert similarity(sketch(STORY), sketch(REPOST)) >= SAME_STORY
    assert similarity(sketch(STORY), sketch(STORY)) == 1.0


def test_a_different_story_is_not() -> None:
    assert similarity(sketch(STORY), sketch(OTHER)) < 0.2
    assert similarity(sketch(""), sketch(STORY)) == 0.0


def test_sketch_is_small_and_stable() -> None:
    long = STORY * 40 + OTHER * 40
    assert len(sketch(long)) == 128 and sketch(long) == sketch(long)
