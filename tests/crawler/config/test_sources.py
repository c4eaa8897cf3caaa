"""sources.yaml models and the YAML loader: the DESIGN example loads, mistakes name file and line."""

from pathlib import Path

import pytest

from crawler.config.sources import SourcesFile
from crawler.config.yamlfile import ConfigError, issues_from_validation, load_documents

DESIGN_EXAMPLE = """\
# sources.yaml
timezone: Asia/Shanghai
windows: ["13:00-14:00", "16:00-17:00"]   # default patrol windows, every day
defaults: {every: 15m, per_host: 2, delay: 1s}
sources:
  - id: lvliang-daily
    name: 吕梁日报
    type: news                  # rss | news | tieba | discuz | html
    url: http://example.cn/news/list.html
  - id: tieba-hualong
    type: tieba
    forum: 化隆                 # 吧名
    pages: 2
  - id: school-bbs
    type: discuz
    url: https://bbs.example.cn/forum-2-1.html
    encoding: gbk
    cookie_env: SCHOOL_BBS_COOKIE   # secrets come from the environment, never the file
  - id: people-rss
    type: rss
    url: http://example.cn/rss.xml
    windows: always
    every: 1h
"""


def _doc(tmp_path: Path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return load_documents(path)[0]


def test_design_example_loads(tmp_path: Path) -> None:
    sources = SourcesFile.model_validate(_doc(tmp_path, DESIGN_EXAMPLE).data)
    assert [s.id for s in sources.sources] == ["lvliang-daily", "tieba-hualong", "school-bbs", "people-rss"]
    daily = sources.schedule(sources.sources[0])
    assert [str(w) for w in daily.windows] == ["13:00-14:00", "16:00-17:00"] and daily.every_s == 900
    rss = sources.schedule(sources.sources[3])
    assert rss.always and rss.every_s == 3600
    assert sources.setting(sources.sources[0], "delay", 5.0) == 1.0


def _errors(tmp_path: Path, text: str) -> list[str]:
    from pydantic import ValidationError

    doc = _doc(tmp_path, text)
    with pytest.raises(ValidationError) as info:
        SourcesFile.model_validate(doc.data)
    return [str(i) for i in issues_from_validation(doc, info.value)]


def test_unknown_key_names_line_and_field(tmp_path: Path) -> None:
    text = DESIGN_EXAMPLE.replace("    pages: 2\n", "    pagez: 2\n")
    errors = _errors(tmp_path, text)
    assert errors == [f"{tmp_path}/sources.yaml:13: sources[1].pagez: 未知的键 unknown key (typo?)"]


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ("    type: tieba\n", "    type: weibo\n", "sources[1].type", 11),
        ("every: 15m", "every: soon", "defaults.every", 4),
        ('windows: ["13:00-14:00", "16:00-17:00"]', 'windows: ["13:00-25:00"]', "windows", 3),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "timezone", 2),
        ("    forum: 化隆                 # 吧名\n", "", "sources[1]", 10),
    ],
)
def test_wrong_values_are_located(tmp_path: Path, old: str, new: str, field: str, line: int) -> None:
    errors = _errors(tmp_path, DESIGN_EXAMPLE.replace(old, new))
    assert any(e.startswith(f"{tmp_path}/sources.yaml:{line}: {field}") for e in errors), errors


def test_secret_headers_refused(tmp_path: Path) -> None:
    text = DESIGN_EXAMPLE + "    headers: {Cookie: abc}\n"
    assert any("cookie_env" in e for e in _errors(tmp_path, text))


def test_alias_bomb_refused_quickly(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    path = tmp_path / "sources.yaml"
    path.write_text(bomb)
    with pytest.raises(ConfigError, match="aliases are not allowed"):
        load_documents(path)


def test_duplicate_key_and_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(ConfigError, match=r"x.yaml:3: a: 重复的键"):
        load_documents(path)
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match=r"x.yaml:\d+: YAML 语法错误"):
        load_documents(path)


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes("group: 本单位\nterms: [化隆二幼]\n".encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_documents(path)
