"""Where and how output files are written: never into the folder of the inputs, and never seen half-written (a
temporary file beside the target, renamed over it when complete)."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode: str = "w", durable: bool = False):
    """Open a temporary file beside `path` for writing (text in UTF-8, or "wb" for bytes); when the block ends
    without an error, rename it over `path`; on an error, remove it and leave `path` as it was. Creates the parent
    folders. A killed process never leaves half a file; `durable` also flushes it to disk before the rename (an fsync,
    for a record that must survive a power cut: the catalog's manifest)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> None:
    """`text` into `path`, atomically (see atomic_write)."""
    with atomic_write(path) as f:
        f.write(text)


def is_input_folder(source, out) -> bool:
    """Whether `source` (an input: a path, or a list or other object that is no folder) is a folder and the same
    one as the output folder `out`: outputs written there would be read back as inputs."""
    return (isinstance(source, (str, os.PathLike)) and Path(source).is_dir()
            and Path(source).resolve() == Path(out).resolve())
