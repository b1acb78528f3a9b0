import pytest

from tryon.files import atomic_write, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "sub" / "report.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in path.parent.iterdir()] == ["report.json"]
    with atomic_write(path, "wb") as f:
        f.write("new é".encode())
    assert path.read_text(encoding="utf-8") == "new é" and len(list(path.parent.iterdir())) == 1
