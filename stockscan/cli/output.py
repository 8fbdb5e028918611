"""Files a command writes (``results export --output``, ``report --output``): whole or not
at all, and never one replaced without ``--force``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from stockscan.errors import UsageError


def _temporary_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Named temporary files of earlier writes of ``path`` whose process is gone (killed
    before it could clean up): ``.NAME.<pid>.tmp`` with a pid that is not running. One whose
    process is alive may be a concurrent write, and is left alone."""
    import glob

    pattern = glob.escape(f".{path.name}.") + "*.tmp"
    for found in path.parent.glob(pattern):
        pid = found.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and found == _temporary_name(path, int(pid)) and not _pid_alive(int(pid)):
            found.unlink(missing_ok=True)


def _unnamed_file(directory: Path) -> int | None:
    """A file with no name in ``directory`` (Linux ``O_TMPFILE``): if the process dies before
    it is linked into place, the kernel frees it and nothing is left behind. None where the
    system or the file system cannot make one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as exc:
        import errno

        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


def _link_unnamed(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path``: linkat(2) of /proc/self/fd/N with
    AT_SYMLINK_FOLLOW (os.link makes that call only when given a directory fd). Raises
    FileExistsError when ``path`` exists."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(str(fd), path, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


@contextmanager
def output_file(path: Path, *, force: bool) -> Iterator[TextIO]:
    """Write ``path`` whole or not at all, and never replace a file without --force.

    The content goes to a file with no name in the destination's directory (``O_TMPFILE``),
    linked into place only when complete: a write killed half-way (even by SIGKILL) leaves
    nothing. Where that is not available, a named ``.NAME.<pid>.tmp`` is used, and the ones
    killed writes left are removed by the next write of the same file. A ``path`` that is a
    symlink is followed: the file it points to is written (its directory holds the temporary
    file, so the final rename stays atomic) and the link stays a link.
    """
    path = path.expanduser()
    given = path
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise UsageError(f"--output {given}: is a directory")
    if path.exists() and not force:
        raise UsageError(f"--output {given}: file exists (add --force to overwrite it)")
    if not path.parent.exists():
        raise UsageError(f"--output {given}: directory {path.parent} does not exist")
    temporary = _temporary_name(path, os.getpid())
    try:
        _remove_stale_temporaries(path)
        fd = _unnamed_file(path.parent)
        if fd is not None:
            with open(fd, "w", encoding="utf-8", newline="") as out:
                yield out
                out.flush()
                if force:
                    # link() cannot replace: name it (complete by now), then rename over.
                    _link_unnamed(fd, temporary)
                    os.replace(temporary, path)
                else:
                    _link_unnamed(fd, path)
            return
        with open(temporary, "w", encoding="utf-8", newline="") as out:
            yield out
        if force:
            os.replace(temporary, path)
        else:
            # link() refuses an existing target: a file created meanwhile is not clobbered.
            os.link(temporary, path)
    except FileExistsError:
        raise UsageError(f"--output {given}: file exists (add --force to overwrite it)") from None
    except OSError as exc:
        raise UsageError(f"--output {given}: cannot write: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
