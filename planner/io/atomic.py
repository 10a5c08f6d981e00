"""Save a workbook atomically: a temporary file beside the target, checked, then renamed.

The target is either the old file or the whole new one, never half of it.
Three things make the reported outcome true as well:

* ``check_target`` refuses a target that is an input (or ends wrong, or has
  no folder) before anything is solved;
* a failed save closes what the writing library left open (a ``ZipFile``
  on a full disk would otherwise complain from its finaliser after the
  clean message) and removes the temporary file;
* Ctrl-C or SIGTERM that comes while the file is being renamed into place
  waits until the rename is done, and inside :func:`outcome_reported` until
  the caller has reported it, so "nothing written" is never said of a file
  that was written.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
import traceback
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from defusedxml import ElementTree
from xlsxwriter.exceptions import XlsxWriterException

from planner.errors import OutputError

_PARTIAL = ".partial.xlsx"
_RANDOM = r"[^.]+"  # what tempfile.mkstemp puts between prefix and suffix: never a dot
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def same_file(a: Path, b: Path) -> bool:
    """Tell whether ``a`` and ``b`` name one file (the same path, a link, another spelling)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links (Python < 3.13)
        return False


def check_target(path: Path, source: str | Iterable[str] = "") -> None:
    """Fail early when ``path`` cannot take a workbook.

    Parameters
    ----------
    path
        The workbook to write.
    source
        The input (or inputs) it was made from: never written over.

    Raises
    ------
    OutputError
        When ``path`` is an input workbook, does not end in .xlsx, is a
        folder, or its folder does not exist.
    """
    sources = [source] if isinstance(source, str) else list(source)
    for each in sources:
        if each and same_file(path, Path(each)):
            raise OutputError(
                f"{path}: refusing to overwrite the input workbook; choose another name"
            )
    if path.suffix.lower() != ".xlsx":
        raise OutputError(f"{path}: the workbook must end in .xlsx")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")
    if path.is_dir():  # found before a sweep's variants are solved, not after
        raise OutputError(f"{path}: is a folder; name the workbook to write inside it")


class _Interrupts:
    """Ctrl-C and SIGTERM held from a rename until its outcome is reported.

    Held signals are recorded by a handler of our own (Python runs signal
    handlers in the main thread only, so this is safe whichever thread the
    operating system picked) and handed to the previous handlers when the
    hold ends. The state belongs to one process: a worker forked inside an
    :func:`outcome_reported` block starts afresh.
    """

    def __init__(self) -> None:
        self.pid = 0
        self.scopes = 0  # open outcome_reported() blocks
        self.previous: dict[int, Any] | None = None  # handlers replaced while holding
        self.pending: list[int] = []

    def here(self) -> _Interrupts:
        """Return the state of this process (started afresh in a forked child)."""
        if self.pid != os.getpid():
            self.pid, self.scopes, self.previous, self.pending = os.getpid(), 0, None, []
        return self

    def hold(self) -> bool:
        """Start holding (main thread only); False when not possible or already holding."""
        if self.previous is not None or threading.current_thread() is not threading.main_thread():
            return False
        previous: dict[int, Any] = {}
        try:
            for number in _INTERRUPTS:
                if signal.getsignal(number) is not None:  # None: not ours to restore
                    previous[number] = signal.signal(number, self._record)
        finally:
            self.previous = previous
        return True

    def _record(self, number: int, frame: FrameType | None) -> None:
        self.pending.append(number)

    def release(self) -> None:
        """Stop holding; deliver a held signal to its own handler now."""
        if self.previous is None or threading.current_thread() is not threading.main_thread():
            return
        previous, self.previous = self.previous, None
        for number, handler in previous.items():
            # signal.signal runs a signal that arrived but was not handled yet, with the
            # handler then installed (ours, which records it): read what was held after
            signal.signal(number, handler)
        pending, self.pending = self.pending, []
        if pending:
            number = pending[0]
            handler = previous.get(number)
            if callable(handler):
                handler(number, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(number)


_interrupts = _Interrupts()


@contextlib.contextmanager
def outcome_reported() -> Iterator[None]:
    """Keep Ctrl-C and SIGTERM from a save's rename until the end of this block.

    Wrap writing and reporting it: an interrupt before the rename stops the
    save (nothing written); one after it waits until the block is left, so
    the caller reports the file that now exists. The held signal is then
    delivered (a ``KeyboardInterrupt`` out of this block, raised after the
    block's work is done). Not for long-running blocks (a server): a save
    inside would hold interrupts until the block ends.
    """
    state = _interrupts.here()
    state.scopes += 1
    try:
        yield
    finally:
        state.scopes -= 1
        if not state.scopes:
            state.release()


@contextlib.contextmanager
def _renaming() -> Iterator[None]:
    """Hold interrupts across the rename; keep holding when an outcome is to be reported."""
    state = _interrupts.here()
    started = state.hold()
    try:
        yield
    except BaseException:
        if started:
            state.release()
        raise
    if started and not state.scopes:
        state.release()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # exists, owned by someone else (or no process id at all: not ours)
    return True


def _partial_name(stem: str) -> re.Pattern[str]:
    """Match exactly the temporary files :func:`save_atomically` makes for ``stem``.

    ``.STEM.PID.RANDOM.partial.xlsx``, nothing between STEM and PID: the
    temporary file of ``plan.2026.xlsx`` (``.plan.2026.PID.RANDOM...``) is
    never read as one of ``plan.xlsx`` written by process 2026.
    """
    return re.compile(rf"\.{re.escape(stem)}\.(\d+)\.{_RANDOM}{re.escape(_PARTIAL)}")


def _remove_stale_partials(folder: Path, stem: str) -> None:
    """Remove temporary files of ``stem`` left by a writer that was killed (its pid is gone)."""
    pattern = _partial_name(stem)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return  # the save itself says what is wrong with the folder
    for partial in entries:
        found = pattern.fullmatch(partial.name)
        if found and not _alive(int(found.group(1))):
            with contextlib.suppress(OSError):
                partial.unlink()


def _close_left_open(error: BaseException) -> None:
    """Close zip archives that a failed writer left open in its frames.

    Otherwise the archive's finaliser tries to finish it later, fails again
    on the full disk and prints "Exception ignored in ZipFile.__del__" after
    the clean message. The frames are those of ``error`` and of the errors
    it was raised from (XlsxWriter re-raises an ``OSError`` as its own).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            for value in list(frame.f_locals.values()):
                if isinstance(value, zipfile.ZipFile):
                    with contextlib.suppress(Exception):
                        value.close()
                    value.fp = None  # closed or not, its finaliser has nothing left to do
        current = current.__cause__ or current.__context__


def _reason(error: BaseException) -> str:
    cause = error if isinstance(error, OSError) else (error.__cause__ or error.__context__ or error)
    return str(getattr(cause, "strerror", None) or cause)


def save_atomically(write: Callable[[str], None], path: Path, sheets: list[str]) -> Path:
    """Write a workbook through ``write(temporary_path)``, check it, and rename it to ``path``.

    Raises
    ------
    OutputError
        When the folder is missing or not writable, or the disk is full;
        nothing is left behind and an existing file at ``path`` is untouched.
    KeyboardInterrupt
        On Ctrl-C or SIGTERM before the rename (nothing written). One that
        comes during the rename is raised after it (the file is written),
        or at the end of the enclosing :func:`outcome_reported` block.
    """
    check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    _remove_stale_partials(folder, path.stem)
    temporary = ""
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.{os.getpid()}.", suffix=_PARTIAL, dir=folder
        )
        os.close(handle)
        write(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        if _sheet_names(temporary) != sheets:
            raise OutputError(f"{path}: the written workbook did not read back")
        with _renaming():
            os.replace(temporary, path)
            temporary = ""
    except XlsxWriterException as error:
        _close_left_open(error)
        raise OutputError(f"{path}: cannot write the workbook ({_reason(error)})") from None
    except PermissionError as error:
        _close_left_open(error)
        raise OutputError(f"{path}: cannot write there ({error.strerror})") from None
    except OSError as error:
        _close_left_open(error)
        raise OutputError(f"{path}: cannot write the workbook ({_reason(error)})") from None
    except BaseException as error:
        _close_left_open(error)
        raise
    finally:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return path


def _sheet_names(path: str) -> list[str] | None:
    """Read back a saved workbook: every part's CRC, and the sheet names it lists."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                return None
            root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return None
    return [sheet.get("name", "") for sheet in root.iter(f"{{{_MAIN_NS}}}sheet")]
