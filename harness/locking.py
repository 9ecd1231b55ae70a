"""An inter-process lock on a file (blocking flock; released when the holder exits)."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.untrusted import regular_descriptor

# Read-write (flock needs only an open file, but creating one needs write), created when missing, never
# truncated (a lock file's content is nobody's business), never through a link, never waiting on a FIFO.
LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def open_lock(path: Path, mode: int = 0o644) -> int:
    """A descriptor on the lock file `path`, created when missing. Lock names are predictable (a cache's
    `<kind>/<key>.lock`, a results directory's `.results.lock`), so a directory from elsewhere may hold
    a symbolic link there: it is not followed (ELOOP), and what is no regular file (a FIFO, a device)
    is refused. Raises OSError naming the path."""
    return regular_descriptor(os.open(path, LOCK_FLAGS, mode), path)


def open_own_lock(path: Path) -> int:
    """open_lock, where something at `path` that is no lock file the harness made (a symbolic link, a
    FIFO) is removed first and the lock file made afresh: the name is the lock's, and removing a link
    never touches what it points to. A directory in the lock's place is moved aside whole
    (`<name>.damaged-<time>`), never removed: a cache or claims directory damaged so made every job an
    error row. Raises OSError."""
    try:
        return open_lock(path)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            _move_directory_aside(Path(path))
            return open_lock(path)
        if exc.errno not in (errno.ELOOP, errno.EINVAL):  # a link (O_NOFOLLOW) or no regular file (above)
            raise
    Path(path).unlink(missing_ok=True)
    return open_lock(path)


def _move_directory_aside(path: Path) -> None:
    """Rename the directory at `path` to `<name>.damaged-<time>`, unless another process moved it first
    and made its lock file there meanwhile: what was renamed is checked to be that very directory (its
    inode) and put back otherwise, so two processes never each hold a lock on another file."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):  # another process moved it already and made its lock file
        return
    inode = info.st_ino
    aside = path.with_name(f"{path.name}.damaged-{time.time_ns()}-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another process moved it first
        return
    if os.stat(aside, follow_symlinks=False).st_ino != inode:  # it was another process's fresh lock file
        try:
            os.link(aside, path)  # put back where no newer file stands (link fails if one does)
        except FileExistsError:
            pass
        os.unlink(aside)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path`, made when missing (see open_own_lock: a planted link is
    replaced, never written through)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_own_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
