"""CSV cells a spreadsheet would run as formulas are neutralised — one rule for every CSV the
product writes (signal and log exports, the viewer's plot data, bookmark exports).

A log line or topic name from a recording is data: ``=HYPERLINK(...)`` or
``-2+3+cmd|' /C calc'!A0`` opened in Excel or LibreOffice would run ("CSV injection"). Text
cells and header names starting with a formula character get a leading apostrophe (OWASP's
advice); numbers stay numbers, so ``-1.5`` in a value column is untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

#: A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> object:
    """A cell for ``csv.writer``: None empty, formula-like text neutralised, numbers as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    return value


def csv_text(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_safe_table(table: pa.Table) -> pa.Table:
    """The table with neutralised header names and text cells, for ``pyarrow.csv``."""
    import pyarrow as pa

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = [None if v is None else csv_text(v) for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(values, column.type)], column.type)
        columns.append(column)
    return pa.table(columns, names=[csv_text(name) for name in table.column_names])
