"""Reading files that came from elsewhere: result directories someone sent, caches another process
wrote. Their bytes are data only; these readers bound what a damaged or hostile file can do to the
reader (block it, fill its memory, exhaust its stack) and turn every such failure into one exception."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

MAX_FILE_BYTES = 256 * 2**20  # a row file of max_calls latencies is a few MB; anything far larger is not ours


OPEN_REGULAR = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC  # O_NONBLOCK: opening a FIFO must not wait for a writer
MAX_WALK_ENTRIES = 1_000_000  # a sweep of 10,000 jobs holds about 100,000 entries


def regular_descriptor(fd: int, path: Path | str) -> int:
    """`fd` when it is open on a regular file; else it is closed and OSError (EINVAL) names `path`: a FIFO,
    a device or a directory where a file (a view, a lock file) belongs is none. The check is on the
    opened file (fstat), so nothing can be swapped in between."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def open_regular(path: Path, max_bytes: int | None = None, follow_links: bool = False) -> Iterator[BinaryIO]:
    """A binary handle on `path` when it is a regular file (of at most `max_bytes`, when given). A file
    from a result directory or cache is untrusted: a FIFO would block a reader forever, a device such as
    /dev/zero never ends, and a symbolic link (unless `follow_links`, for files the user named) may point
    anywhere. The open never blocks (O_NONBLOCK) and the check is on the opened file (fstat), so nothing
    can be swapped in between. Raises OSError naming why."""
    fd = regular_descriptor(os.open(path, OPEN_REGULAR | (0 if follow_links else os.O_NOFOLLOW)), path)
    try:
        if max_bytes is not None and os.fstat(fd).st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `path` when it is a regular file of at most `max_bytes` (see open_regular), e.g.
    a Parquet file handed to pandas as `io.BytesIO`, so pandas never opens the path itself."""
    with open_regular(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after fstat
        raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
    return data


def read_regular(path: Path, max_bytes: int = MAX_FILE_BYTES, errors: str = "strict") -> str:
    """The text of `path` when it is a regular file (not a symlink, FIFO or device) of at most
    `max_bytes`. Files from result directories and caches are untrusted: a FIFO would block a reader
    forever and a link to /dev/zero would fill memory. Raises OSError (naming why) or UnicodeDecodeError."""
    return read_regular_bytes(path, max_bytes).decode("utf-8", errors)


def first_link(directory: Path, max_entries: int = MAX_WALK_ENTRIES) -> Path | None:
    """The first symbolic link under `directory` (names in sorted order, depth first; no link is
    followed), or None; None too when `directory` does not exist. A directory from elsewhere may hold a
    link where the harness or Hydra will write (a lock file, `rows/`, `plots/`, `.hydra/overrides.yaml`),
    and writing through it changes a file outside the directory; refusing every link is the one rule
    that needs no list of those places. Raises OSError past `max_entries` entries (a bounded walk) or
    when a directory cannot be listed."""
    pending, seen = [Path(directory)], 0
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda entry: entry.name, reverse=True)
        except FileNotFoundError:
            if current == Path(directory):
                return None
            raise
        seen += len(entries)
        if seen > max_entries:
            raise OSError(errno.E2BIG, f"more than {max_entries} entries; not checked for links", str(directory))
        for entry in reversed(entries):
            if entry.is_symlink():
                return Path(entry.path)
        pending.extend(Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False))
    return None


INT64 = (-(2**63), 2**63 - 1)  # what numpy and pandas hold as an integer


def _bounded_int(text: str) -> int | float:
    """A JSON integer as an int when an int64 holds it, else as a float (inf beyond 1.8e308): numpy and
    pandas raise OverflowError on a larger int, while every check on a number refuses an infinite
    or out-of-range float in one line."""
    number = int(text)
    return number if INT64[0] <= number <= INT64[1] else float(text)


def json_loads(text: str) -> Any:
    """`json.loads` for untrusted text: every way it can fail (including nesting deep enough to exhaust
    the recursion limit) raises ValueError. An integer beyond int64 (10**400) is read as a float
    (`_bounded_int`), so no reader of the result meets an OverflowError."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_number(value: Any, low: float, high: float, nan_ok: bool = False) -> float:
    """`value` from untrusted JSON as a float in [low, high]: a JSON number only (not a bool, which
    Python counts as an int, nor a string that float() would accept). Raises ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if math.isnan(number):
        if nan_ok:
            return number
        raise ValueError("NaN")
    if not low <= number <= high:
        raise ValueError(f"{number!r} is outside [{low!r}, {high!r}]")
    return number


# Characters a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1 controls (ESC/CSI/OSC
# sequences recolour, retitle or rewrite a terminal) and the bidirectional overrides that reorder what is shown
# ("Trojan Source", CVE-2021-42574). Unicode categories: https://www.unicode.org/reports/tr44/#General_Category_Values
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` from a file that came from elsewhere, safe to print: every terminal control character
    (TERMINAL_CONTROLS) shown as its escape (ESC as the four characters `\\x1b`), the rest unchanged."""
    return TERMINAL_CONTROLS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


MAX_LINE_CHARS = 2000  # a printed message quoting a file's value (a 900-level label_map) is cut here
LINE_BREAKS = re.compile(r"[\n\r\t\v\f\x85\u2028\u2029]")


def one_line(text: str, max_chars: int = MAX_LINE_CHARS) -> str:
    """`text` as one printed line: printable, with line breaks and tabs shown as their escapes too (a file
    named `x\nharness.report: all good` forged a second message line), cut to `max_chars` ("...")."""
    text = LINE_BREAKS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), printable(text))
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._]+")  # what a part keeps; "-" is left to separate the parts


def file_stem(*parts: str, max_chars: int = 40) -> str:
    """`parts` (fields from a file that came from elsewhere: a workload, precision or host name) joined
    by `-` as the stem of a file name: each part keeps letters, digits, `.` and `_`, at most `max_chars`,
    no leading dot (never `..`, never a path; three parts and a suffix stay far below the 255 bytes a
    name may have). When any part had to change, 12 hex digits of the SHA-256 of all parts follow, so
    two different names ("a-b"/"c" and "a"/"b-c") never share a file by accident."""
    safe = [NAME_CHARACTERS.sub("_", part).lstrip(".")[:max_chars] or "_" for part in parts]
    stem = "-".join(safe)
    if safe != list(parts):
        stem += "-" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
    return stem


@contextlib.contextmanager
def literal_plot_text() -> Iterator[None]:
    """Matplotlib reads `$...$` in any label as mathtext
    (https://matplotlib.org/stable/users/explain/text/mathtext.html), so a runtime named `$\\frac{$` would
    fail the whole plot: labels made inside this block show their text as it is (rcParams
    `text.parse_math`, which a Text takes when it is created)."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        yield


def plain_log_ticks(axis: Any) -> None:
    """Tick labels of a log-scaled `axis` (ax.xaxis / ax.yaxis) as plain text ("100", "20"):
    matplotlib's default for log axes (LogFormatterSciNotation) writes them as mathtext
    (`$\\mathdefault{10^{2}}$`), which showed raw inside literal_plot_text. Same labels otherwise
    (LogFormatter, minor ticks labelled as the default does)."""
    from matplotlib import ticker

    base = getattr(axis.get_transform(), "base", 10)
    axis.set_major_formatter(ticker.LogFormatter(base))
    axis.set_minor_formatter(ticker.LogFormatter(base, labelOnlyBase=False))


def printable_json(text: str) -> Any:
    """json_loads, with every string in the result (keys too) made printable: JSON's `\\u001b` escapes
    decode to the very control characters `printable` takes out of plain text. Raises ValueError."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return printable(value)
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {printable(key): clean(item) for key, item in value.items()}
        return value

    try:
        return clean(json_loads(text))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
