"""The worked example in docs/scoring.md is what the code computes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stockscan.analysis import INDICATOR_NAMES, SCORING_VERSION, Bars, analyze, position_size
from stockscan.analysis.scoring import SLOPE_BARS

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"


def _worked_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## 7. Worked example")
    return text[start : text.index("\n## ", start + 1)]


def _rows(section: str) -> dict[str, list[str]]:
    """Table rows keyed by their first cell (backticks dropped)."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _shown(text: str) -> tuple[float, float]:
    """The number as printed, and half a unit of its last printed digit."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return float(text), 0.5 * 10.0**-decimals + 1e-12


def _assert_printed(text: str, actual: float, what: str) -> None:
    value, tolerance = _shown(text)
    assert abs(actual - value) <= tolerance, f"{what}: doc says {text}, code gives {actual}"


@pytest.fixture(scope="module")
def rows() -> dict[str, list[str]]:
    return _rows(_worked_example())


def test_doc_names_the_scoring_version() -> None:
    assert f'`SCORING_VERSION = "{SCORING_VERSION}"`' in DOC.read_text(encoding="utf-8")


def test_indicator_values(goog: Bars, rows: dict[str, list[str]]) -> None:
    analysis = analyze(goog)
    for name in INDICATOR_NAMES:
        value = analysis.indicators[name]
        assert value is not None
        _assert_printed(rows[name][0], value, name)
    sma_50_before = analysis.raw["inputs"][f"sma_50_{SLOPE_BARS}_bars_ago"]
    match = re.search(r"SMA-50 ten bars earlier \([\d-]+\): (\d+\.\d+)", _worked_example())
    assert match is not None
    _assert_printed(match.group(1), sma_50_before, "SMA-50 ten bars earlier")


def test_components(goog: Bars, rows: dict[str, list[str]]) -> None:
    analysis = analyze(goog)
    for component in analysis.components:
        signal, points, max_points = rows[component.name]
        _assert_printed(signal, analysis.raw["signals"][component.name], component.name)
        assert float(points) == component.points, component.name
        assert float(max_points) == component.max_points, component.name


def test_results(goog: Bars, rows: dict[str, list[str]]) -> None:
    analysis = analyze(goog)
    plan = analysis.plan
    assert float(rows["score"][0]) == analysis.score
    assert rows["verdict"][0] == analysis.verdict
    assert rows["side"][0] == plan.side
    assert float(rows["entry"][0]) == plan.entry
    assert float(rows["stop"][0]) == plan.stop
    assert float(rows["target"][0]) == plan.target
    assert float(rows["risk_per_share"][0]) == plan.risk_per_share
    assert float(rows["reward_risk"][0]) == plan.reward_risk
    assert int(rows["quantity"][0]) == position_size(plan, 100_000, 1, 20)
    assert analysis.raw["plan"]["rule"] == "structure"
    assert analysis.raw["plan"]["swing_low"] == 784.4
