"""Builders of hostile and broken workbooks, made from the hand case's zip parts."""

from __future__ import annotations

import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REFERENCE

HAND = REFERENCE / "case-00-hand.xlsx"
PERIODS_PART = "xl/worksheets/sheet1.xml"  # the Periods sheet of the hand case
OFFERS_PART = "xl/worksheets/sheet4.xml"

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTENT_TYPES = "[Content_Types].xml"
_WORKSHEET_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"

Rewrite = Callable[[str, bytes], bytes | None]


def rewrite(
    target: Path, change: Rewrite, extra: dict[str, bytes] | None = None, source: Path = HAND
) -> Path:
    """Copy ``source``'s zip parts to ``target``, each through ``change`` (None drops it)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = change(item.filename, src.read(item.filename))
            if data is not None:
                out.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return target


def replace_part(part: str, data: bytes) -> Rewrite:
    """A change that swaps one part for ``data``."""
    return lambda name, old: data if name == part else old


def periods_sheet(rows: str, prolog: str = "", tail: str = "") -> bytes:
    """A Periods sheet: the header, ``rows`` (XML), and whatever comes before or after."""
    header = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>period</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>days</t></is></c></row>'
    )
    body = (
        f'{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{header}{rows}</sheetData>{tail}</worksheet>"
    )
    return body.encode()


def period_rows(first: int, last: int) -> str:
    """Rows ``first``..``last`` of the Periods sheet with real data."""
    return "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>P{r}</t></is></c>'
        f'<c r="B{r}"><v>90</v></c></row>'
        for r in range(first, last + 1)
    )


def formatted_rows(first: int, last: int) -> str:
    """Rows with formatting and no values, as Excel writes 'format to the last row'."""
    return "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(first, last + 1))


def zip_bomb(target: Path, gigabytes: float = 1.0) -> Path:
    """A valid-looking workbook whose one extra part unpacks to ``gigabytes`` of zeros."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(HAND) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, src.read(item.filename))
        with out.open("xl/media/bomb.bin", "w", force_zip64=True) as bomb:
            for _ in range(int(gigabytes * 1024)):
                bomb.write(chunk)
    return target


def billion_laughs() -> bytes:
    """The Periods sheet with an exponential entity expansion."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    prolog = f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
    row = '<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    return periods_sheet(row, prolog)


def external_entity() -> bytes:
    """The Periods sheet reading a local file through an external entity."""
    prolog = '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    row = '<row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
    return periods_sheet(row, prolog)


def many_sheets(
    target: Path,
    count: int,
    folder: str = "xl/worksheets/",
    share: bool = False,
    sheet: bytes | None = None,
) -> Path:
    """The hand case with ``count`` extra sheets, named in the workbook and its relationships.

    Their parts (``sheet``, default a blank Periods sheet) are stored in
    ``folder`` (any folder: sheets are found through the relationships);
    with ``share`` every extra sheet names the same part.
    """
    blank = sheet or periods_sheet("")
    parts = [f"{folder}extra{0 if share else i}.xml" for i in range(count)]
    sheets = "".join(
        f'<sheet name="Extra{i}" sheetId="{100 + i}" r:id="rIdX{i}"/>' for i in range(count)
    )
    links = "".join(
        f'<Relationship Id="rIdX{i}" Target="/{part}" Type="{_WORKSHEET_TYPE}"/>'
        for i, part in enumerate(parts)
    )

    def register(name: str, data: bytes) -> bytes:
        if name == "xl/workbook.xml":
            return data.replace(b"</sheets>", f"{sheets}</sheets>".encode())
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", f"{links}</Relationships>".encode())
        return data

    return rewrite(target, register, dict.fromkeys(parts, blank))


def shared_strings(target: Path, megabytes: float) -> Path:
    """The hand case with a shared-strings part of ``megabytes`` of random (incompressible) text.

    Random text packs about 2:1, so the file passes the zip-bomb ratio and
    only a limit on the part itself stops it.
    """
    rng = random.Random(11)
    count = int(megabytes * 2**20 / 48)  # 48 bytes a string
    strings = "".join(f"<si><t>{rng.getrandbits(128):032x}</t></si>" for _ in range(count))
    part = (f'<sst xmlns="{_MAIN}" count="{count}" uniqueCount="{count}">{strings}</sst>').encode()
    override = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )

    def declare(name: str, data: bytes) -> bytes:
        return data.replace(b"</Types>", override.encode()) if name == CONTENT_TYPES else data

    return rewrite(target, declare, {"xl/sharedStrings.xml": part})


def styles(kilobytes: int) -> bytes:
    """A styles part of about ``kilobytes``: one font, fill, border and countless cell formats."""
    xf = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    count = kilobytes * 1024 // len(xf)
    return (
        f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font/></fonts>'
        '<fills count="1"><fill/></fills><borders count="1"><border/></borders>'
        f'<cellXfs count="{count}">{xf * count}</cellXfs></styleSheet>'
    ).encode()


def merged_sheet(part_xml: bytes, *ranges: str) -> bytes:
    """A sheet's XML with ``ranges`` merged (``A2:IV1048576`` covers the whole sheet)."""
    cells = "".join(f'<mergeCell ref="{ref}"/>' for ref in ranges)
    merge = f'</sheetData><mergeCells count="{len(ranges)}">{cells}</mergeCells>'
    return part_xml.replace(b"</sheetData>", merge.encode(), 1)


def mutate_bytes(content: bytes, seed: int, flips: int) -> bytes:
    """Flip ``flips`` random bytes of ``content``."""
    rng = random.Random(seed)
    data = bytearray(content)
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def set_cell_xml(part_xml: bytes, cell: str, inner: str) -> bytes:
    """Replace the XML of one cell (e.g. ``H2``) by ``<c r="H2" ...>inner</c>``."""
    pattern = rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)'.encode()
    return re.sub(pattern, f'<c r="{cell}"{inner}'.encode(), part_xml, count=1)
