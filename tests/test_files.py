import pytest

from tryon.files import atomic_write, is_input_folder, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "sub" / "report.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in path.parent.iterdir()] == ["report.json"]
    with atomic_write(path, "wb", durable=True) as f:
        f.write("new é".encode())
    assert path.read_text(encoding="utf-8") == "new é" and len(list(path.parent.iterdir())) == 1


def test_is_input_folder(tmp_path):
    (tmp_path / "catalog.csv").write_text("sku,image\n")
    assert is_input_folder(tmp_path, tmp_path / "." / "")
    assert is_input_folder(str(tmp_path), tmp_path)
    assert not is_input_folder(tmp_path, tmp_path / "renders")
    assert not is_input_folder(tmp_path / "catalog.csv", tmp_path)  # a catalog file is no folder
    assert not is_input_folder([tmp_path], tmp_path)
