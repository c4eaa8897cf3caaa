"""``yuqing check`` on the shipped configuration and on broken copies of it, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def yuqing(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("sources.yaml", "alerts.yaml"):
        shutil.copy(REPO / name, folder / name)
    shutil.copytree(REPO / "keywords", folder / "keywords")
    return folder


def test_shipped_config_checks_clean(shipped: Path) -> None:
    result = yuqing(shipped, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("hualong-news", "haidong-news", "qinghai-rss", "food-safety", "保教处邮箱", "配置有效"):
        assert expected in result.stdout


def test_every_error_is_listed_with_file_and_line(shipped: Path) -> None:
    sources = shipped / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    text = text.replace("    link_selector:", "    link_selectr:", 1).replace("every: 1h", "every: often")
    sources.write_text(text, encoding="utf-8")
    rules = shipped / "keywords" / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("grade: 重大", "grade: 特大", 1), encoding="utf-8")
    result = yuqing(shipped, "check")
    assert result.returncode == 1
    lines = text.splitlines()
    typo_line = next(i for i, line in enumerate(lines, 1) if "link_selectr" in line)
    every_line = next(i for i, line in enumerate(lines, 1) if "every: often" in line)
    assert f"sources.yaml:{typo_line}: sources[1].link_selectr: 未知的键" in result.stderr
    assert f"sources.yaml:{every_line}: sources[2].every:" in result.stderr
    assert "rules.yaml:" in result.stderr and "rules[0].grade" in result.stderr


def test_missing_secret_variable_is_an_error(shipped: Path) -> None:
    alerts = shipped / "alerts.yaml"
    alerts.write_text(alerts.read_text(encoding="utf-8").replace(
        "    # password: ${YUQING_SMTP_PASSWORD}", "    username: yuqing\n    password: ${YUQING_TEST_UNSET_VAR}"),
        encoding="utf-8")
    result = yuqing(shipped, "check", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "YUQING_TEST_UNSET_VAR" in result.stderr and "alerts.yaml:" in result.stderr


def test_keywords_file_in_gbk_is_named_not_guessed(shipped: Path) -> None:
    rules = shipped / "keywords" / "rules.yaml"
    rules.write_bytes(rules.read_text(encoding="utf-8").encode("gbk", "replace"))
    result = yuqing(shipped, "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "rules.yaml" in result.stderr and "UTF-8" in result.stderr


@pytest.mark.parametrize("breakage", ["dangling symlink", "a folder"])
def test_unreadable_sources_file_is_a_clear_error(shipped: Path, breakage: str) -> None:
    sources = shipped / "sources.yaml"
    sources.unlink()
    if breakage == "a folder":
        sources.mkdir()
    else:
        sources.symlink_to(shipped / "gone.yaml")
    result = yuqing(shipped, "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "sources.yaml" in result.stderr
