"""Atomic output: build a file or folder under a hidden temporary name beside its target, rename it in.

A crash or a Ctrl-C never leaves a half-written output, and an older one at the target survives a failed
run. Only the standard library here: :mod:`emviz.trace` saves traces through :func:`atomic_output`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from emviz.errors import InputError

__all__ = ["atomic_output", "make_dirs", "remove_empty"]

_temp_counter = itertools.count()


class _AtomicTarget:
    """A target path and the temporary path beside it that becomes the target on :meth:`commit`."""

    def __init__(self, path: str | os.PathLike, *, directory: bool = False, replaces: re.Pattern | None = None):
        self.path = Path(path)
        self.directory = directory
        self.replaces = replaces
        if self.path.exists() and self.path.is_dir() != directory:
            kind = "a folder" if self.path.is_dir() else "a file"
            raise InputError(
                f"output {str(self.path)!r} already exists and is {kind}; remove it or choose another name"
            )
        self._check_replaceable()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self._free_name(".tmp")
        if directory:
            self.tmp.mkdir()

    def _free_name(self, tag: str) -> Path:
        # Keep the real suffix last so tools that dispatch on it (ffmpeg, savefig) still see it; the
        # counter only matters when one process writes the same target twice at once.
        stem, suffix = (self.path.name, "") if self.directory else (self.path.stem, self.path.suffix)
        for n in itertools.chain([None], _temp_counter):
            pid = f"{os.getpid()}" if n is None else f"{os.getpid()}-{n}"
            candidate = self.path.with_name(f".{stem}.{pid}{tag}{suffix}")
            if not candidate.exists():
                return candidate
        raise AssertionError("unreachable")

    def _check_replaceable(self) -> None:
        """A folder is replaced whole: refuse one that holds anything but what this writer writes
        (a user's own files, the config, the data), rather than delete it."""
        if not (self.directory and self.replaces is not None and self.path.is_dir()):
            return
        others = sorted(p.name for p in self.path.iterdir() if not self.replaces.fullmatch(p.name))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise InputError(f"output {str(self.path)!r} already exists and holds other files ({shown}); a folder "
                             "output replaces its folder whole, so choose a new or empty folder")

    def commit(self) -> None:
        """Move the finished temporary output into place, replacing an older one."""
        if not self.directory:
            _fsync(self.tmp)
            os.replace(self.tmp, self.path)
            return
        old = self.swap_in()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def swap_in(self) -> Path | None:
        """Move the finished temporary folder into place; return where the older folder was moved
        aside (None: there was none). :meth:`swap_back` undoes it, ``shutil.rmtree`` completes it."""
        if not self.path.exists():
            os.replace(self.tmp, self.path)
            return None
        self._check_replaceable()  # again: files may have appeared while the frames were drawn
        # os.replace cannot replace a non-empty folder: move the old one aside first, and put it back
        # if the swap fails, so that the target always holds one complete folder.
        old = self._free_name(".old")
        os.replace(self.path, old)
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            os.replace(old, self.path)
            raise
        return old

    def swap_back(self, old: Path | None) -> None:
        """Undo :meth:`swap_in`: the new folder back to its temporary name, the older one into place."""
        os.replace(self.path, self.tmp)
        if old is not None:
            os.replace(old, self.path)

    def discard(self) -> None:
        """Remove the temporary output; the target is left as it was."""
        if self.tmp.is_dir() and not self.tmp.is_symlink():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()


class _FileWithFolder:
    """A file and the folder beside it that the file refers to (a LaTeX snippet and its frames), built
    under temporary names and moved into place together.

    The folder is swapped in first and the file renamed last; if that rename fails the older folder is
    put back, so the file and the folder at the targets always belong together (only a crash between
    the two renames, a moment, could pair a new folder with the older file). ``tmp`` is the file's
    temporary path (not created), ``folder_tmp`` the temporary folder (created empty).
    """

    def __init__(self, path: str | os.PathLike, folder: str | os.PathLike, *, replaces: re.Pattern | None = None):
        self.path = Path(path)
        self.folder = _AtomicTarget(folder, directory=True, replaces=replaces)
        try:
            self.file = _AtomicTarget(path)
        except BaseException:
            self.folder.discard()
            raise
        self.tmp, self.folder_tmp = self.file.tmp, self.folder.tmp

    def commit(self) -> None:
        old = self.folder.swap_in()
        try:
            self.file.commit()
        except BaseException:
            self.folder.swap_back(old)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        try:
            self.file.discard()
        finally:
            self.folder.discard()


def _fsync(path: Path) -> None:
    # Without this a power cut just after the rename can leave an empty file under the final name.
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Write to a temporary path beside ``path`` and move it into place only if the block completes.

    Parameters
    ----------
    path : str or os.PathLike
        The final output. Its parent folders are created.
    directory : bool, default False
        If True the output is a folder: the temporary folder is created empty and yielded, and on
        success it replaces ``path`` (an existing folder there is replaced whole).

    Yields
    ------
    pathlib.Path
        The temporary path, named ``.<stem>.<pid>.tmp<suffix>`` in the same folder so that the
        rename is atomic and tools that look at the suffix still work. For a file it does not exist yet.

    Raises
    ------
    InputError
        If ``path`` exists and is a folder where a file is wanted, or the other way round.

    Notes
    -----
    On any exception, KeyboardInterrupt included, the temporary output is removed, the exception
    propagates, and whatever was at ``path`` before is left untouched.
    """
    target = _AtomicTarget(path, directory=directory)
    try:
        yield target.tmp
        target.commit()
    except BaseException:
        target.discard()
        raise


def make_dirs(directory: Path, created: list | None) -> None:
    """``mkdir -p``, remembering the directories it made (so a failed run can remove them again)."""
    missing = []
    probe = Path(directory)
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        if created is not None:
            created.append(path)


def remove_empty(created: list) -> None:
    """Remove the directories :func:`make_dirs` made, newest first, where they are still empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            pass  # not empty (a checkpointed trace, or someone else's file): leave it
