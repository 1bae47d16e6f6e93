"""How long does an XLSForm import take, and how much memory, when the survey sheet carries a
million blank formatted rows after the form (a sheet formatted down to its last row)?

The workbook: a small form (a group, three questions, a choices sheet) whose survey sheet then
has N rows each holding one formatted empty cell. Two variants: the sheet's dimension honest
(`A1:F<N>`), and claiming the whole sheet (`A1:XFD1048576`, as some writers store it).

Baseline, same file, same run: every row of the survey and choices sheets read with openpyxl's
read-only `iter_rows(values_only=True)`, which is how the import read a workbook before it had
its byte scan. Measured: `import_xlsform` (byte scan, then parsing up to the last filled row).
Each runs in a fresh process; reported: seconds, and the peak RSS during the work (VmHWM, reset
to the current RSS by /proc/self/clear_refs just before it; Linux) and its rise over that RSS. With the claimed dimension the baseline pads every row to 16,384 cells, so
only its first `--claimed-rows` rows are read (the figure says so).

    python -m bench.xlsform --rows 1000000
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path, rows: int, claim: bool) -> Path:
    import openpyxl

    small = folder / "small.xlsx"
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in (["type", "name", "label"], ["begin group", "g", "Group"],
                ["select_one yn", "a", "Open?"], ["integer", "n", "Count"],
                ["text", "t", "Note"], ["end group"]):
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in (["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]):
        choices.append(row)
    book.save(small)
    out = folder / f"blank_{rows}_{'claimed' if claim else 'honest'}.xlsx"
    blank = b"".join(b'<row r="%d" customFormat="1" ht="15"><c r="A%d" s="0"/></row>' % (n, n)
                     for n in range(7, rows + 7))
    ref = b"A1:XFD1048576" if claim else b"A1:F%d" % (rows + 6)
    with zipfile.ZipFile(small) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + ref + b'"/>',
                              data).replace(b"</sheetData>", blank + b"</sheetData>")
            dst.writestr(info.filename, data)
    return out


def child(mode: str, path: str, limit: int | None) -> None:
    """Runs in a fresh process: the work, then one JSON line with its figures."""
    import openpyxl  # noqa: F401  (imported before the RSS baseline, in both modes)

    from server.forms.xlsform import import_xlsform

    start = _reset_peak()
    began = time.perf_counter()
    if mode == "import":
        result = import_xlsform(path)
        rows = sum(len(s["questions"]) for s in result.definition["sections"])
    else:
        book = openpyxl.load_workbook(path, read_only=True)
        rows = 0
        for ws in book.worksheets:
            for _ in ws.iter_rows(max_row=limit, values_only=True):
                rows += 1
        book.close()
    seconds = time.perf_counter() - began
    peak = _status_kib("VmHWM")
    print(json.dumps({"seconds": seconds, "rss_mib": (peak - start) / 1024, "peak_mib": peak / 1024,
                      "rows": rows}))


def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))


def _reset_peak() -> int:
    """Reset the process's peak RSS (VmHWM) to its current RSS; that RSS in KiB."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    return _status_kib("VmRSS")


def run(mode: str, path: Path, limit: int | None = None) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.xlsform", "--child", mode, str(path),
                          str(limit or 0)], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="blank rows after the form")
    parser.add_argument("--claimed-rows", type=int, default=200,
                        help="rows the baseline reads when the sheet claims A1:XFD1048576")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, path, limit = args.child
        child(mode, path, int(limit) or None)
        return
    with tempfile.TemporaryDirectory(prefix="adal-bench-xlsform-") as folder:
        for claim in (False, True):
            began = time.perf_counter()
            path = build(Path(folder), args.rows, claim)
            built = time.perf_counter() - began
            unpacked = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size
            print(f"{'claimed A1:XFD1048576' if claim else 'honest dimension'}: {args.rows:,} "
                  f"blank rows, {path.stat().st_size / 2**20:.1f} MiB file, "
                  f"{unpacked / 2**20:.0f} MiB sheet XML (built in {built:.1f} s)")
            limit = args.claimed_rows if claim else None
            base = run("baseline", path, limit)
            new = run("import", path)
            what = f"first {limit:,} rows only" if limit else "every row"
            print(f"  baseline openpyxl iter_rows ({what}): {base['seconds']:7.2f} s, "
                  f"peak RSS {base['peak_mib']:6.1f} MiB (+{base['rss_mib']:.1f} for the work), "
                  f"{base['rows']:,} rows")
            print(f"  import_xlsform:                        {new['seconds']:7.2f} s, "
                  f"peak RSS {new['peak_mib']:6.1f} MiB (+{new['rss_mib']:.1f} for the work), "
                  f"{new['rows']} questions")
            if limit:
                per_row = base["seconds"] / base["rows"]
                print(f"  baseline per row {per_row * 1000:.2f} ms (every row padded to 16,384 "
                      "cells)")
            else:
                print(f"  ratio baseline/import: time {base['seconds'] / new['seconds']:.1f}x, "
                      f"extra memory {base['rss_mib']:.1f} vs {new['rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
