"""``yuqing demo`` as a newcomer runs it: hits and a delivered mail within a minute, clean Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def test_demo_shows_hits_and_mail_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--data", str(tmp_path), "demo", "--every", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    output = ""
    deadline = time.monotonic() + 60
    try:
        mailbox = tmp_path / "demo" / "mail"
        while time.monotonic() < deadline and len(list(mailbox.glob("*.eml"))) < 3:
            time.sleep(0.5)
        time.sleep(1.5)  # let the reporter print
        proc.send_signal(signal.SIGINT)
        output, errors = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output + errors
    assert "Traceback" not in errors, errors
    assert output.count("【命中】") == 3, output  # two food-safety reports and one fee complaint
    assert "【已发送告警邮件】" in output and "演示已停止" in output
    assert len(list(mailbox.glob("*.eml"))) == 3
