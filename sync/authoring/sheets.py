"""Read the rows of a county's own Excel table (.xlsx), refusing what could hurt the server.

An .xlsx file is a zip of XML parts. Before openpyxl opens it, its size, the size it unpacks to and
each part's compression ratio are capped (a zip bomb is refused, not unpacked). Formulas are never
evaluated: a cell holding one is reported for its row, so the clerk pastes its value instead. Cells
become plain text (numbers as written, dates as YYYY-MM-DD); markup in them stays text, escaped
wherever it is shown. The header row is found among the first rows by the names the caller knows,
so a title row above the table (merged across it, as counties print them) is fine.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sync.contract.files import atomic_write
from sync.contract.i18n import tr

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200  # unpacked / packed size of one part; real sheets stay well under 50
MAX_PARTS = 2_000
MAX_ROWS = 20_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 20_000
HEADER_ROWS = 10  # the header row is one of these
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SheetError(Exception):
    """The file cannot be read as a table; the message says why, for the clerk."""


@dataclass
class Row:
    """One row of the table: its number in Excel, its cells by column, cells holding a formula."""

    number: int
    cells: dict[str, str]
    formulas: list[str] = field(default_factory=list)


@dataclass
class Table:
    columns: list[str]  # the header row's names, as written
    rows: list[Row]
    title: str = ""  # the first text above the header row, e.g. 某县社会救助领域基层政务公开标准目录


def _check_zip(file: Path) -> None:
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SheetError(tr("the file is larger than %(limit)s MB", limit=MAX_FILE_BYTES // 1024 // 1024))
    if not zipfile.is_zipfile(file):
        raise SheetError(tr("not an .xlsx file (save it from Excel or WPS as .xlsx)"))
    with zipfile.ZipFile(file) as archive:
        parts = archive.infolist()
        unpacked = sum(part.file_size for part in parts)
        ratios = [part.file_size / max(part.compress_size, 1) for part in parts]
        if len(parts) > MAX_PARTS or unpacked > MAX_UNPACKED_BYTES or max(ratios, default=0) > MAX_RATIO:
            raise SheetError(tr("the file unpacks to far more than a table holds; it is refused"))
        if "xl/workbook.xml" not in archive.namelist():
            raise SheetError(tr("not an .xlsx file (save it from Excel or WPS as .xlsx)"))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ", "minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = _CONTROL.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def _header(cells: list[str], known: set[str]) -> bool:
    return sum(1 for cell in cells if column_key(cell) in known) >= 2


def column_key(name: str) -> str:
    """A header as compared: no spaces or line breaks, and no note in brackets ('办理时限（工作日）')."""
    bare = re.sub(r"\s+", "", name)
    return re.sub(r"[（(][^）)]*[）)]$", "", bare) or bare


def columns_of(table: Table, variants: dict[str, list[str]]) -> dict[str, str]:
    """field -> the table's header for it, the first header matching one of the field's *variants*."""
    found: dict[str, str] = {}
    for column in table.columns:
        key = column_key(column)
        for name, names in variants.items():
            if name not in found and key in names:
                found[name] = column
    return found


def formula_problems(row: Row) -> list[str]:
    return [tr("row %(row)s: 「%(column)s」 holds a formula; paste its value instead", row=row.number, column=column)
            for column in row.formulas]  # fmt: skip


def empty_problem(row: Row, column: str) -> str:
    return tr("row %(row)s: 「%(column)s」 is empty", row=row.number, column=column)


def read_table(file: Path, known: Iterable[str], below: Iterable[str] = ()) -> Table:
    """Return the first sheet's table whose header row names at least two of the *known* columns.

    A second header row naming any of *below* (公开对象 over 全社会 and 特定群众, merged above them) gives
    its columns those names.
    """
    from openpyxl import load_workbook  # only the county's authoring needs it

    _check_zip(file)
    names = {column_key(name) for name in known}
    try:
        workbook = load_workbook(file, read_only=True, data_only=False, keep_links=False)
    except Exception as error:  # openpyxl raises many kinds for a broken file; the clerk needs one answer
        raise SheetError(tr("the file cannot be read as a table (%(reason)s)", reason=type(error).__name__)) from None
    try:
        sheet = workbook.worksheets[0]
        columns: list[str] | None = None
        under = {column_key(name) for name in below}
        second = False  # the row after the header row may be a second header row
        title = ""
        rows: list[Row] = []
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
            if number > MAX_ROWS:
                raise SheetError(tr("more than %(limit)s rows; split the table into several files", limit=MAX_ROWS))
            texts, formulas = [], []
            for cell in values:
                raw = getattr(cell, "value", None)
                formula = getattr(cell, "data_type", None) == "f" or (isinstance(raw, str) and raw.startswith("="))
                text = "" if formula else _text(raw)
                if len(text) > MAX_CELL_CHARS:
                    raise SheetError(tr("row %(row)s holds a cell of more than %(limit)s characters", row=number,
                                        limit=MAX_CELL_CHARS))  # fmt: skip
                texts.append(text)
                formulas.append(formula)
            if columns is None:
                if _header(texts, names):
                    columns, second = texts, True
                elif number >= HEADER_ROWS:
                    break
                title = title or next((text for text in texts if text), "")
                continue
            if second:
                second = False
                # A header under a merged one: a known name below an empty cell of the header row (a value
                # such as 全社会 in a column of its own name is data).
                if any(column_key(text) in under and not (columns[n] if n < len(columns) else "")
                       for n, text in enumerate(texts)):  # fmt: skip
                    columns = [text or (columns[n] if n < len(columns) else "") for n, text in enumerate(texts)]
                    continue
            if not any(texts) and not any(formulas):
                continue
            cells = {column: texts[n] for n, column in enumerate(columns) if column and n < len(texts)}
            used = [column for n, column in enumerate(columns) if column and n < len(formulas) and formulas[n]]
            rows.append(Row(number, cells, used))
    finally:
        workbook.close()
    if columns is None:
        raise SheetError(
            tr("no header row found in the first %(count)s rows; the columns are named e.g. %(names)s",
               count=HEADER_ROWS, names="、".join(sorted(known)[:6]))
        )  # fmt: skip
    return Table([column for column in columns if column], rows, title)


def write_table(file: Path, title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Write *rows* under a title row and a header row, as counties keep their lists; text cells only."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    assert sheet is not None
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    sheet.cell(1, 1).font = Font(bold=True, size=14)
    sheet.append(columns)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        # A cell starting '=' would be a formula in Excel: written as text (openpyxl's data type 's').
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    data = io.BytesIO()
    workbook.save(data)
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(file, data.getvalue())
