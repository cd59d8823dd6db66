"""Headless Debian chromium for tests and benches: the DOM a page's own script built, and screenshots.

    from browser import chromium, dump_dom, elements, screenshot

    dom = dump_dom(page, "#category=Angry")          # the document after the page's script ran
    samples = elements(dom, "data-sample-id")         # [(tag, {attr: value}), ...] in document order

`chromium()` fails (never skips) when the browser is absent: `.ci/run` installs it (`apt-get install -y chromium`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["chromium", "dump_dom", "elements", "screenshot", "texts"]

INSTALL = "apt-get update && apt-get install -y chromium (as root; .ci/run does it before make test)"


def chromium() -> str:
    """The chromium binary; AssertionError with the install command when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, f"chromium not found: the view's browser tests need it; install it with {INSTALL}"
    return found


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="eibench-chromium-") as profile:
        # --no-sandbox: CI runs as root; a fresh profile per call: no state shared between tests
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def dump_dom(page: Path, fragment: str = "") -> str:
    """The page's DOM (serialized) after its script ran, opened from a file:// URL with ``fragment``."""
    return _run(["--dump-dom", Path(page).resolve().as_uri() + fragment]).stdout


def screenshot(page: Path, png: Path, fragment: str = "", size: str = "1280,1400") -> Path:
    """A PNG of the page as the browser drew it."""
    _run([f"--screenshot={png}", f"--window-size={size}", Path(page).resolve().as_uri() + fragment])
    assert Path(png).is_file(), "chromium wrote no screenshot"
    return Path(png)


class _Collector(HTMLParser):
    def __init__(self, attribute: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attribute, self.found, self.title, self._in_title = attribute, [], "", False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self.attribute in attributes:
            self.found.append((tag, attributes))
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def elements(dom: str, attribute: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element carrying ``attribute``, as (tag, attributes), in document order."""
    collector = _Collector(attribute)
    collector.feed(dom)
    return collector.found


def title(dom: str) -> str:
    collector = _Collector("\0")
    collector.feed(dom)
    return collector.title


def texts(dom: str, css_class: str) -> list[str]:
    """The text content of every element whose class list holds ``css_class`` (nested text included)."""

    class Texts(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.depth, self.current, self.out = 0, [], []

        def handle_starttag(self, tag, attrs):
            if self.depth:
                self.depth += 1
            elif css_class in (dict(attrs).get("class") or "").split():
                self.depth, self.current = 1, []

        def handle_endtag(self, tag):
            if self.depth:
                self.depth -= 1
                if not self.depth:
                    self.out.append("".join(self.current))

        def handle_data(self, data):
            if self.depth:
                self.current.append(data)

    parser = Texts()
    parser.feed(dom)
    return parser.out
