"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, which ``.ci/run``
installs) loads it from a file with no network, logs nothing to its console, raises no error,
decodes every chart, and takes a screenshot.

Set ``STOCKSCAN_REPORT_SCREENSHOT=docs/report.png`` to keep the screenshot (the README's).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (.ci/run installs Debian's `chromium` when it runs as root"
    " with apt-get; elsewhere: apt-get install chromium)",
)
TICKERS = ("TCS.NS", "INFY.NS", "RELIANCE.NS", "SBIN.NS", "ITC.NS", "LT.NS", "WIPRO.NS")
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
CONSOLE = re.compile(r":CONSOLE[:(]")

# Put first in <head> of a copy of the report: records every error (a script error, or an
# image or other resource that fails to load: the capture phase sees those) and every
# console.error, then after load writes them, each image's decoded size and the score column
# before and after a click on its header, into the page for --dump-dom to show.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(String(e.message || (e.target && e.target.tagName) || 'error'));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, ' '));
  __consoleError.apply(console, arguments);
};
window.addEventListener('load', function () {
  function scores() {
    return Array.from(document.querySelectorAll('#summary tbody tr')).map(function (row) {
      return parseFloat(row.cells[1].dataset.v);
    });
  }
  var before = scores();
  document.querySelector('#summary th.sort').click();
  var descending = scores();
  document.querySelector('#summary th.sort').click();
  var probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({
    errors: window.__errors,
    images: Array.from(document.images).map(function (img) {
      return {complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
    }),
    scores: {before: before, descending: descending, ascending: scores()}
  });
  document.body.appendChild(probe);
});
</script>"""


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    done = run_cli("analyze", "--source", "demo", "--quiet", *TICKERS)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "report.html"
    done = run_cli("report", "--latest", "--output", str(report))
    assert done.returncode == 0, done.stderr
    page = report.read_text()
    charts = page.count("<img ")
    assert charts > 0, "the demo tickers must include a BUY-side verdict"

    # The page as the reader gets it: a screenshot, and not one console message.
    screenshot = tmp_path / "report.png"
    shot = chromium(
        f"--screenshot={screenshot}", "--window-size=1100,1500", report.as_uri(), cwd=tmp_path
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert screenshot.stat().st_size > 20_000  # a blank page is a few KB
    assert not CONSOLE.search(shot.stderr), shot.stderr

    # A copy with the probe: errors, decoded images and the sort, read back from the DOM.
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1))
    dumped = chromium("--virtual-time-budget=10000", "--dump-dom", probed.as_uri(), cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert not CONSOLE.search(dumped.stderr), dumped.stderr
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.S)
    assert found, "the page never finished loading"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["errors"] == []
    assert len(probe["images"]) == charts
    for image in probe["images"]:
        assert image == {"complete": True, "width": 960, "height": 480}
    scores = probe["scores"]
    assert scores["before"] == sorted(scores["before"], reverse=True)
    assert scores["descending"] == sorted(scores["before"], reverse=True)
    assert scores["ascending"] == sorted(scores["before"])

    keep = os.environ.get("STOCKSCAN_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(screenshot, keep)
