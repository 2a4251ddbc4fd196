"""Excel in and out: one streamed xlsx writer with a formula-injection guard, and one guarded
reader for uploads.

Every "Download Excel" in the product goes through `xlsx_response`. The workbook is written
row by row (app.xlsxstream) to a spooled temporary file (memory first, disk when
large), then streamed back in chunks; every cell goes through `safe_cell` first.

Every uploaded xlsx goes through `read_xlsx`, which refuses a hostile file before openpyxl
spends time or memory on it: size first, then the zip's directory (entry count, declared sizes,
compression ratio, names), then a read-only, row-capped read (defusedxml refuses DTD tricks,
`reset_dimensions` ignores a forged sheet size), refusing formulas and wrong sheets or headers.
"""

from __future__ import annotations

import enum
import io
import itertools
import re
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from urllib.parse import quote

from defusedxml import DefusedXmlException
from flask import Response
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from app import clock, xlsxstream
from app.errors import InvalidInput

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Characters that make a spreadsheet treat text as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
DATETIME_FORMAT = "yyyy/mm/dd hh:mm:ss"
DATE_FORMAT = "yyyy/mm/dd"
SPOOL_BYTES = 2 * 1024 * 1024  # kept in memory up to this size, then on disk
CHUNK_BYTES = 64 * 1024
MEMO_TEXT_CHARS = 40  # values remembered by cell_renderer: texts up to this long, this many
MEMO_ENTRIES = 20_000

_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def _guard_text(text: str) -> str:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_CHARS - 1]
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _wall_time(value: datetime) -> datetime:
    """Taipei wall time without tzinfo; a naive datetime is UTC, as everywhere in this app."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return clock.taipei(aware).replace(tzinfo=None)


def safe_cell(value: object) -> Any:
    """A value ready for a cell: numbers and dates stay real numbers and dates, text can never
    start a formula.

    - None → "" (an empty cell);
    - bool, int, float, Decimal, date and time pass through unchanged;
    - datetime → Taipei wall time without tzinfo (Excel has no time zones); a naive datetime is
      taken to be UTC, as everywhere in this app;
    - enum → its `label` if it has one, else its value;
    - anything else → text; text beginning with = + - @ (or tab / CR) gets a leading `'`, and
      characters XML cannot carry are dropped.
    """
    if value is None:
        return ""
    kind = type(value)  # the common exact types first: this runs for every cell of an export
    if kind is str:
        return _guard_text(value)  # type: ignore[arg-type]
    if kind is int:
        return value
    if kind is datetime:
        return _wall_time(value)  # type: ignore[arg-type]
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return _wall_time(value)
    if isinstance(value, date | time):
        return value
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        value = label if isinstance(label, str) else value.value
        return safe_cell(value)
    return _guard_text(value if isinstance(value, str) else str(value))


def _sheet_title(title: str) -> str:
    cleaned = _SHEET_TITLE_BAD.sub("_", title).strip("'")[:31]
    return cleaned or "工作表1"


def _filename(filename: str) -> str:
    name = filename.strip().replace("/", "_").replace("\\", "_") or "export"
    return name if name.lower().endswith(".xlsx") else f"{name}.xlsx"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name per RFC 5987 / RFC 6266. The
    fallback keeps the name's extension (`.xlsx` when it has none)."""
    found = re.search(r"\.[A-Za-z0-9]{1,5}$", filename)
    extension = found.group(0).lower() if found else ".xlsx"
    stem = filename[: -len(extension)] if found else filename
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_.") or "export"
    fallback = f"{ascii_stem}{extension}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def cell_renderer() -> Callable[[object], str]:
    """`safe_cell`, then the cell's XML (app.xlsxstream.cell), remembering the XML of values
    that repeat: statuses, product, store and branch names and a batch's issue time make up
    most of a report's cells, and each is cleaned, converted and escaped once instead of once
    per cell (a datetime costs ~6 µs on this machine's CPU, a cached cell ~0.2 µs). The memory
    is dropped whenever it holds MEMO_ENTRIES values, so it stays small and keeps up with
    whatever repeats in the rows being written now."""
    memo: dict[object, str] = {}
    xml_of = xlsxstream.cell
    empty = xml_of("")

    def render(value: object) -> str:
        kind = type(value)
        if kind is str or kind is datetime:
            xml = memo.get(value)
            if xml is None:
                xml = xml_of(_guard_text(value) if kind is str else _wall_time(value))  # type: ignore[arg-type]
                if kind is datetime or len(value) <= MEMO_TEXT_CHARS:  # type: ignore[arg-type]
                    if len(memo) >= MEMO_ENTRIES:
                        memo.clear()
                    memo[value] = xml
            return xml
        if value is None:
            return empty
        return xml_of(safe_cell(value))

    return render


def header_width(header: str) -> int:
    """A column's width from its header: wide enough for the header, 10 to 40."""
    return max(10, min(40, 2 * len(str(header)) + 4))


WIDTH_SAMPLE = 200  # rows read ahead to fit the column widths to the data
MAX_WIDTH = 60


def value_width(value: object) -> int:
    """About how many character widths a cell shows (a CJK character counts two)."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fitted_widths(widths: Sequence[float], sample: Sequence[Sequence[object]]) -> list[float]:
    """Each column's width (from its header) widened to fit the sample's values, at most
    MAX_WIDTH; a column never narrows below its given width."""
    fitted = list(widths)
    for row in sample:
        for i, value in enumerate(row[:len(fitted)]):
            fitted[i] = max(fitted[i], min(MAX_WIDTH, value_width(value) + 2))
    return fitted


def write_xlsx(out: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[object]],
               sheet_title: str = "工作表1", *, widths: Sequence[float] | None = None) -> None:
    """Write one sheet (a bold, frozen header row, then the rows) to a binary file object,
    streaming: memory stays flat however many rows (app.xlsxstream says why not openpyxl).
    `widths`: the columns' widths (default: from each header)."""
    if widths is None:
        widths = [header_width(header) for header in headers]
    rows = iter(rows)
    sample = list(itertools.islice(rows, WIDTH_SAMPLE))
    widths = fitted_widths(widths, sample)
    rows = itertools.chain(sample, rows)
    xlsxstream.write(out, [safe_cell(h) for h in headers], rows,
                     sheet_title=_sheet_title(sheet_title), widths=widths,
                     datetime_format=DATETIME_FORMAT, date_format=DATE_FORMAT,
                     render=cell_renderer())


def _stream(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


def xlsx_response(filename: str, headers: list[str], rows: Iterable[Sequence[object]],
                  sheet_title: str = "工作表1", *,
                  widths: Sequence[float] | None = None) -> Response:
    """A download of `rows` under `headers` as `filename` (Chinese names welcome).

    The rows are consumed here, inside the request (they may be a lazy database result); the
    finished file is then streamed back and the temporary file closed when the stream ends.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # closed by _stream
    try:
        write_xlsx(spool, headers, rows, sheet_title, widths=widths)
        size = spool.seek(0, 2)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = Response(_stream(spool), mimetype=XLSX_MIMETYPE, direct_passthrough=True)
    response.headers["Content-Disposition"] = content_disposition(_filename(filename))
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"
    return response


def workbook_response(filename: str, data: bytes) -> Response:
    """A download of a workbook already made (a template, an issuance file)."""
    response = Response(data, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(_filename(filename))
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# Reading uploads
# ---------------------------------------------------------------------------------------------

UPLOAD_MAX_BYTES = 2 * 1024 * 1024  # the upload limit the messages quote
ZIP_MAX_ENTRIES = 100
ZIP_MAX_TOTAL_BYTES = 50 * 1024 * 1024  # declared uncompressed size of all entries together
ZIP_MAX_RATIO = 100  # uncompressed / compressed, per entry
# "<" in all entries together: an upper bound on XML elements, which is what openpyxl's time and
# memory follow (a 1.6 MB file of one 2-million-cell row took it 62 s and 1.8 GB). A filled
# 1000-row template has about 40,000.
ZIP_MAX_TAGS = 300_000
SCAN_CHUNK = 1024 * 1024
EXTRA_COLUMNS = 5  # columns read beyond the headers (to notice unexpected headers)
MAX_BLANK_ROWS = 10_000  # empty rows tolerated between/after the data rows

MSG_TOO_LARGE = "檔案太大（上限 {limit}）"
MSG_NOT_XLSX = "檔案格式錯誤，請上傳 Excel（.xlsx）檔案"
MSG_ABNORMAL = "檔案內容異常，無法讀取"
MSG_FORMULA = "檔案含有公式（第 {row} 列 {col} 欄），請改為純文字或數值後再上傳"
MSG_ERROR_VALUE = "檔案含有錯誤值 {value}（第 {row} 列 {col} 欄），請修正後再上傳"
MSG_TOO_MANY_ROWS = "資料列數超過上限（最多 {limit} 列）"
MSG_TOO_MANY_BLANK_ROWS = "檔案含有過多空白列，請刪除資料下方的空白列後再上傳"
MSG_NO_SHEET = "找不到工作表「{name}」"
MSG_NO_WORKSHEET = "檔案中找不到工作表"
MSG_HEADERS = "標題列與範例模板不符：{detail}"


def _size_label(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KB"
    return f"{limit} bytes"


def _read_limited(stream_or_bytes: object, max_bytes: int) -> bytes:
    """The upload's bytes, reading at most `max_bytes + 1` of a stream; too large is refused."""
    if isinstance(stream_or_bytes, bytes | bytearray | memoryview):
        data = bytes(stream_or_bytes)
    else:
        read = getattr(stream_or_bytes, "read", None)
        if read is None:
            raise TypeError("read_xlsx needs bytes or a binary file object")
        data = read(max_bytes + 1)
        if not isinstance(data, bytes):
            raise InvalidInput(MSG_NOT_XLSX)
    if len(data) > max_bytes:
        raise InvalidInput(MSG_TOO_LARGE.format(limit=_size_label(max_bytes)))
    if not data:
        raise InvalidInput(MSG_NOT_XLSX)
    return data


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name:
        return True
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return True
    return ".." in normalised.split("/")


def check_zip(data: bytes) -> None:
    """Refuse a file that is not a zip, or a zip that would cost too much to open.

    Only the central directory is read. zipfile later stops at each entry's declared size (and
    the CRC check fails if the data lied), so checking the declared sizes is enough.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise InvalidInput(MSG_NOT_XLSX) from None
    if not entries:
        raise InvalidInput(MSG_NOT_XLSX)
    if len(entries) > ZIP_MAX_ENTRIES:
        raise InvalidInput(MSG_ABNORMAL)
    total = 0
    for info in entries:
        if _unsafe_name(info.filename) or info.flag_bits & 0x1:  # traversal, or encrypted
            raise InvalidInput(MSG_ABNORMAL)
        total += info.file_size
        if total > ZIP_MAX_TOTAL_BYTES:
            raise InvalidInput(MSG_ABNORMAL)
        if info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            raise InvalidInput(MSG_ABNORMAL)


def _scan_markup(data: bytes, max_rows: int) -> None:
    """Count the markup openpyxl would parse (decompressing in chunks, at C speed) and refuse a
    file with far more than any issuance file has, before openpyxl parses a byte of it."""
    tags = 0
    rows = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                is_sheet = info.filename.startswith("xl/worksheets/")
                sheet_rows = 0
                with archive.open(info) as entry:
                    while chunk := entry.read(SCAN_CHUNK):
                        tags += chunk.count(b"<")
                        if is_sheet:  # a rough count, only to choose the message
                            sheet_rows += chunk.count(b"<row")
                            rows = max(rows, sheet_rows)
                        if tags > ZIP_MAX_TAGS:
                            if rows > max_rows + 1:
                                raise InvalidInput(MSG_TOO_MANY_ROWS.format(limit=max_rows))
                            raise InvalidInput(MSG_ABNORMAL)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, OSError,
            EOFError):
        raise InvalidInput(MSG_NOT_XLSX) from None  # bad CRC, unknown compression, encrypted, …


def _plain(value: object) -> object:
    """A cell value as the caller wants it: text stripped ("" → None), integral numbers as int,
    date cells as date (a datetime keeps its time of day only when it has one)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return value.date() if value.time() == time() else value
    return value


def _header_problem(found: list[str], expected: list[str]) -> str | None:
    while found and not found[-1]:
        found.pop()
    if found == expected:
        return None
    missing = [h for h in expected if h not in found]
    unexpected = [h for h in found if h and h not in expected]
    parts = []
    if missing:
        parts.append("缺少" + "、".join(f"「{h}」" for h in missing))
    if unexpected:
        parts.append("多了" + "、".join(f"「{h}」" for h in unexpected))
    if not parts:
        parts.append("欄位順序應為" + "、".join(f"「{h}」" for h in expected))
    return MSG_HEADERS.format(detail="；".join(parts))


def _check_cell(cell: Any, row: int, column: int) -> None:
    value = cell.value
    if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")) or not (
            value is None or isinstance(value, str | int | float | date | time | timedelta)):
        raise InvalidInput(MSG_FORMULA.format(row=row, col=get_column_letter(column)))
    if cell.data_type == "e":
        raise InvalidInput(MSG_ERROR_VALUE.format(value=value, row=row, col=get_column_letter(column)))


def _rows(ws: Any, headers: list[str], max_rows: int) -> list[dict[str, object]]:
    width = len(headers) + EXTRA_COLUMNS
    ws.reset_dimensions()  # never trust the declared <dimension ref>
    result: list[dict[str, object]] = []
    header_seen = False
    blank = 0
    for row_no, cells in enumerate(ws.iter_rows(min_row=1, max_col=width), start=1):
        for column, cell in enumerate(cells, start=1):
            _check_cell(cell, row_no, column)
        values = [_plain(cell.value) for cell in cells]
        if row_no == 1:
            found = ["" if v is None else str(v) for v in values]
            problem = _header_problem(found, list(headers))
            if problem:
                raise InvalidInput(problem)
            header_seen = True
            continue
        if all(v is None for v in values[:len(headers)]):
            blank += 1
            if blank > MAX_BLANK_ROWS:
                raise InvalidInput(MSG_TOO_MANY_BLANK_ROWS)
            continue
        if len(result) >= max_rows:
            raise InvalidInput(MSG_TOO_MANY_ROWS.format(limit=max_rows))
        record: dict[str, object] = dict(zip(headers, values, strict=False))
        record["_row"] = row_no
        result.append(record)
    if not header_seen:  # an empty sheet
        raise InvalidInput(_header_problem([], list(headers)) or MSG_NOT_XLSX)
    return result


def _defused(err: BaseException | None) -> bool:
    """Whether defusedxml refused the XML (a DTD or entity trick), however openpyxl wrapped it."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, DefusedXmlException):
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


def read_xlsx(stream_or_bytes: object, *, headers: list[str], max_rows: int,
              max_bytes: int = UPLOAD_MAX_BYTES, sheet: str | None = None) -> list[dict[str, object]]:
    """The data rows of an uploaded xlsx, or `InvalidInput` with the reason (nothing is created).

    Row 1 must hold `headers` exactly (after stripping; empty trailing columns allowed). Each
    returned dict maps header → value (text stripped, "" → None, integral numbers as int, dates
    as date) plus "_row", the Excel row number. Empty rows are skipped; more than `max_rows`
    data rows is refused as soon as row `max_rows + 1` is met, so a huge file is never read whole.
    """
    data = _read_limited(stream_or_bytes, max_bytes)
    check_zip(data)
    _scan_markup(data, max_rows)
    workbook = None
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (extensions, odd dates): not our business
            warnings.simplefilter("ignore")
            try:
                workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
                if sheet is None:
                    if not workbook.worksheets:
                        raise InvalidInput(MSG_NO_WORKSHEET)
                    ws = workbook.worksheets[0]  # the first worksheet (chart sheets are skipped)
                else:
                    ws = workbook[sheet] if sheet in workbook.sheetnames else None
                    if ws is None or not hasattr(ws, "reset_dimensions"):  # missing, or a chart
                        raise InvalidInput(MSG_NO_SHEET.format(name=sheet))
                return _rows(ws, headers, max_rows)
            except InvalidInput:
                raise
            except Exception as err:  # anything openpyxl or zipfile chokes on is not a usable xlsx
                raise InvalidInput(MSG_ABNORMAL if _defused(err) else MSG_NOT_XLSX) from None
    finally:
        if workbook is not None:
            workbook.close()


def cell_text(value: object) -> str:
    """A read cell as text for text fields ("" for empty; 123 → "123"; a date → yyyy/mm/dd)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return str(value).strip()


_DATE_TEXT = re.compile(r"^(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?$")


def cell_date(value: object) -> date | None:
    """A read cell as a date: a date cell, or text yyyy/mm/dd (also yyyy-mm-dd, yyyy.mm.dd,
    yyyymmdd, yyyy年m月d日). None for an empty cell; ValueError when it is not a valid date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    match = _DATE_TEXT.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
    elif re.fullmatch(r"\d{8}", text):
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    else:
        raise ValueError(f"not a date: {text!r}")
    return date(year, month, day)
