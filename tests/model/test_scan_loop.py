"""`triage scan`'s loop: results in order, a bad file reported in its place, loading one scan ahead."""

from __future__ import annotations

import pathlib
import threading

import pytest

from cli.commands.scan import ScanFile, Scorer, score_all


def test_results_come_in_order_with_each_error_in_its_place() -> None:
    scans = [ScanFile(pathlib.Path(name)) for name in ("a.png", "broken.png", "c.png", "bad-judge.png")]

    def load(scan_file: ScanFile) -> str:
        if scan_file.path.name == "broken.png":
            raise ValueError("not a PNG")
        return scan_file.path.name

    def judge(name: str) -> dict[str, str]:
        if name == "bad-judge.png":
            raise RuntimeError("refused")
        return {"judged": name}

    outcomes = list(score_all(scans, Scorer(load, judge)))
    assert [s.path.name for s, _ in outcomes] == ["a.png", "broken.png", "c.png", "bad-judge.png"]
    assert outcomes[0][1] == {"judged": "a.png"} and outcomes[2][1] == {"judged": "c.png"}
    assert isinstance(outcomes[1][1], ValueError) and isinstance(outcomes[3][1], RuntimeError)


def test_the_next_scan_loads_while_the_current_one_is_judged_and_no_further() -> None:
    scans = [ScanFile(pathlib.Path(f"{i}.png")) for i in range(5)]
    loaded: list[int] = []
    lock = threading.Lock()
    next_loaded = threading.Event()

    def load(scan_file: ScanFile) -> int:
        index = int(scan_file.path.stem)
        with lock:
            loaded.append(index)
        if index == 1:
            next_loaded.set()
        return index

    def judge(index: int) -> dict[str, int]:
        if index == 0:
            # Scan 1 is read while scan 0 is still being judged.
            assert next_loaded.wait(timeout=10)
        with lock:
            # Never more than one scan beyond the one being judged.
            assert max(loaded) <= index + 1
        return {"index": index}

    assert [r for _, r in score_all(scans, Scorer(load, judge))] == [{"index": i} for i in range(5)]
    assert loaded == [0, 1, 2, 3, 4]


def test_no_scans_gives_nothing() -> None:
    def never(_: object) -> dict[str, str]:
        pytest.fail("nothing to load or judge")

    assert list(score_all([], Scorer(never, never))) == []
