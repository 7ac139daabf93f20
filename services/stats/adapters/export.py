"""Sheets as files: CSV (UTF-8 with a byte order mark, so Excel shows the Chinese) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services.stats.domain.tables import Sheet

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(sheets: list[Sheet]) -> bytes:
    """The sheets one after another: each one's lines above the table, its headers, rows and notes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, sheet in enumerate(sheets):
        if index:
            writer.writerow([])
        writer.writerow([sheet.title])
        for line in sheet.heading:
            writer.writerow([line])
        writer.writerow(sheet.columns)
        writer.writerows(sheet.rows)
        for line in sheet.footer:
            writer.writerow([line])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(sheets: list[Sheet]) -> bytes:
    """A worksheet per sheet: the lines above the table merged across it, bold headers, the rows, the notes."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        worksheet = workbook.create_sheet(sheet.title[:31])
        width = max(1, len(sheet.columns))
        for line in sheet.heading:
            worksheet.append([line])
            row = worksheet.max_row
            worksheet.cell(row, 1).font = Font(bold=True)
            if width > 1:
                worksheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        worksheet.append(sheet.columns)
        for cell in worksheet[worksheet.max_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in sheet.rows:
            worksheet.append(list(row))
        for line in sheet.footer:
            worksheet.append([line])
        for position in range(1, width + 1):
            worksheet.column_dimensions[get_column_letter(position)].width = 18
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
