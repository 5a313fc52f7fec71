import builtins
import sys

import pytest

from sklearn_debias.utils import _progress, progress


def _hide_tqdm(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "tqdm" or name.startswith("tqdm."):
            raise ImportError("no tqdm")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tqdm", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_silent_yields_items(capsys):
    items = [object(), 1.5, "a"]
    out = list(progress(iter(items), verbose=0))
    assert all(a is b for a, b in zip(out, items))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_plain_fallback_without_tqdm(monkeypatch, capsys):
    _hide_tqdm(monkeypatch)
    assert _progress._import_tqdm() is None
    out = list(progress(range(20), desc="walk", verbose=1))
    assert out == list(range(20))
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    # About one line per 10% of the work, the last one at 100%.
    assert 8 <= len(lines) <= 11
    assert all(line.startswith("walk: ") for line in lines)
    assert "20/20 (100%)" in lines[-1]


def test_plain_fallback_unknown_length(monkeypatch, capsys):
    _hide_tqdm(monkeypatch)
    out = list(progress((i for i in range(9)), verbose=1))
    assert out == list(range(9))
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "4", "8"]


def test_plain_fallback_empty(monkeypatch, capsys):
    _hide_tqdm(monkeypatch)
    assert list(progress([], verbose=1)) == []
    assert capsys.readouterr().err == ""


def test_tqdm_bar(capsys):
    pytest.importorskip("tqdm")
    out = list(progress(range(5), desc="chunks", verbose=2))
    assert out == list(range(5))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "chunks" in captured.err and "5/5" in captured.err
