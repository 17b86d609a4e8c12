"""trioserver/frozen.py's checks, in the test venv (they check against whatever interpreter
runs them; scripts/smoke-binary runs the same paths inside the binary)."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from trioserver import frozen


def fake_dist(root: Path, name: str, version: str, tags: list[str], files: dict[str, str]) -> Path:
    """A distribution as pip --target leaves it: its files and a dist-info with WHEEL and RECORD."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags))
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files) + f"{info.name}/RECORD,,\n")
    return info


def test_wheels_for_another_python_are_found(tmp_path: Path) -> None:
    fake_dist(tmp_path, "purepkg", "1.0", ["py3-none-any"], {"purepkg/__init__.py": ""})
    bad = fake_dist(tmp_path, "cpkg", "2.0", ["cp312-cp312-manylinux_2_17_x86_64"], {"cpkg/__init__.py": ""})
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    fake_dist(tmp_path, "okpkg", "3.0", [f"{here}-abi3-manylinux_2_17_x86_64", "cp312-cp312-linux_x86_64"],
              {"okpkg/__init__.py": ""})
    found = frozen.unloadable([tmp_path])
    if here == "cp312":
        pytest.skip("this interpreter is the foreign one")
    assert [Path(p).name for p, _ in found] == [bad.name]
    assert "cp312-cp312-manylinux_2_17_x86_64" in frozen.describe(found)


def test_pip_refuses_a_foreign_wheel_file_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = tmp_path / "ujson-5.10.0-cp39-cp39-win_amd64.whl"
    wheel.write_bytes(b"")
    assert frozen.pip_main(["install", "--target", str(tmp_path / "deps"), str(wheel)]) == 1
    err = capsys.readouterr().err
    assert "cannot use these wheels" in err and "win_amd64" in err
    assert not (tmp_path / "deps").exists()


def test_python_path_goes_first_and_processes_pth_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "lib").mkdir()
    (tmp_path / "extra.pth").write_text("lib\n")
    added = frozen.add_python_path([str(tmp_path)])
    assert added == [str(tmp_path), str(tmp_path / "lib")]
    assert sys.path[:2] == added


def test_python_path_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a directory"):
        frozen.add_python_path([str(tmp_path / "missing")])


def test_pruning_removes_only_what_is_bundled_at_the_same_version(tmp_path: Path) -> None:
    attrs_version = metadata.version("attrs")
    kept_before = fake_dist(tmp_path, "attrs", "0.0.1", ["py3-none-any"], {"old_attrs/__init__.py": ""})
    dup = fake_dist(tmp_path, "attrs", attrs_version, ["py3-none-any"], {"attrs/__init__.py": "", "attrs/x.py": ""})
    own = fake_dist(tmp_path, "notbundled", "1.0", ["py3-none-any"], {"notbundled/__init__.py": ""})
    pruned = frozen._prune_bundled(str(tmp_path), before={kept_before.name})
    assert pruned == [f"attrs {attrs_version}"]
    assert not dup.exists() and not (tmp_path / "attrs").exists()
    assert own.exists() and (tmp_path / "notbundled" / "__init__.py").exists()
    assert kept_before.exists()


def test_config_dependency_dirs_resolve_against_the_config(tmp_path: Path) -> None:
    config = tmp_path / "app" / "langgraph.json"
    config.parent.mkdir()
    config.write_text('{"dependencies": [".", "./deps"], "graphs": {}}')
    assert frozen.config_dependency_dirs(config) == [str(config.parent), str(config.parent / "deps")]
    assert frozen.config_dependency_dirs(None) == []


def test_version_text_names_the_bundled_versions_and_tags() -> None:
    text = frozen.version_text()
    assert text.startswith("trioserver ")
    assert f"langgraph {metadata.version('langgraph')}" in text
    assert "loads wheels tagged" in text
