"""A composed report to bytes (.docx or .xlsx), and kept under ``<data>/reports/<kind>/``."""

from __future__ import annotations

import os
from pathlib import Path

from alerts.reports.document import Report

FORMATS = ("docx", "xlsx")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def encode(report: Report, fmt: str) -> bytes:
    if fmt == "docx":
        from alerts.reports.docx import build_docx

        return build_docx(report)
    if fmt == "xlsx":
        from alerts.reports.xlsx import build_xlsx

        return build_xlsx(report)
    raise ValueError(f"未知格式 {fmt!r}，可选 docx、xlsx (unknown format)")


def keep(data: bytes, data_dir: Path, report: Report, fmt: str) -> Path:
    """Write the file under the data folder (atomically: a half-written report is never mailed)."""
    folder = data_dir / "reports" / report.kind
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / report.file_name(fmt)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, target)
    return target
