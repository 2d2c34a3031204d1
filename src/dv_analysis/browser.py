"""Open report pages in headless Chromium as a person would, over the DevTools protocol.

For each page: every network request other than ``file:`` and ``data:`` is recorded
(a staff page must make none), console errors and uncaught exceptions are collected,
the fonts Chromium actually used to draw the first heading are read (Chinese must be
drawn by a CJK font, not boxes), and a full-page screenshot can be saved.

Uses Debian's ``chromium`` (``make env`` installs it) and the ``websocket-client``
package; no browser is downloaded.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--window-size=1100,1400",
)
CJK_MARKERS = ("CJK", "TC", "Hei", "Ming", "Kai", "Song", "JhengHei", "PingFang")


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    url: str
    requests: list[str] = field(default_factory=list)  # non-local requests
    console_errors: list[str] = field(default_factory=list)
    heading_fonts: list[dict] = field(default_factory=list)
    title: str = ""

    @property
    def cjk_font(self) -> bool:
        return any(
            any(m in f.get("familyName", "") for m in CJK_MARKERS) and f.get("glyphCount", 0) > 0
            for f in self.heading_fonts
        )

    @property
    def ok(self) -> bool:
        return not self.requests and not self.console_errors and self.cjk_font


class Browser:
    """A headless Chromium with one tab, driven over the DevTools protocol."""

    def __init__(self, binary: str | None = None, timeout: float = 30.0):
        import websocket

        self.binary = binary or find_chromium()
        if not self.binary:
            raise FileNotFoundError("no Chromium found: install Debian's chromium (make env does)")
        self.profile = tempfile.mkdtemp(prefix="dv-chromium-")
        self.proc = subprocess.Popen(
            [
                self.binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=timeout).read()
        )
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
        )
        self._id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Network", "Runtime", "Log", "DOM", "CSS"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def _drain(self, seconds: float) -> None:
        end = time.time() + seconds
        self.ws.settimeout(0.2)
        while time.time() < end:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except Exception:  # noqa: BLE001 - a receive timeout just means no event yet
                continue
        self.ws.settimeout(30)

    def check(self, path: Path, screenshot: Path | None = None, settle: float = 1.5) -> PageCheck:
        """Load a local page and check it; optionally save a full-page PNG screenshot."""
        url = Path(path).resolve().as_uri()
        self.events = []
        self.call("Page.navigate", url=url)
        self._drain(settle)
        result = PageCheck(url)
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                if not u.startswith(("file:", "data:", "about:")):
                    result.requests.append(u)
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                result.console_errors.append(
                    " ".join(
                        str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
                    )
                )
            elif m == "Runtime.exceptionThrown":
                result.console_errors.append(p.get("exceptionDetails", {}).get("text", "exception"))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                result.console_errors.append(p["entry"].get("text", ""))
        root = self.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector="h1")["nodeId"]
        if node:
            result.heading_fonts = self.call("CSS.getPlatformFontsForNode", nodeId=node).get(
                "fonts", []
            )
        result.title = (
            self.call("Runtime.evaluate", expression="document.title")
            .get("result", {})
            .get("value", "")
        )
        if screenshot is not None:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self.call(
                "Page.captureScreenshot",
                format="png",
                captureBeyondViewport=True,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": min(size["height"], 12000),
                    "scale": 1,
                },
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return result

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def set_width(self, width: int, mobile: bool = False, height: int = 900) -> None:
        """Emulate a window ``width`` CSS pixels wide (a phone with ``mobile``); reload after."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    def hover(self, selector: str, index: int = 0) -> str:
        """Move the mouse over the ``index``-th element matching ``selector`` (scrolled into
        view); return the text of the map tooltip shown (``''`` if none)."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelectorAll({json.dumps(selector)})[{index}];"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if box is None:
            raise LookupError(f"no element {selector!r} #{index}")
        for dx in (0.0, 1.0):
            self.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0] + dx, y=box[1])
        self._drain(0.3)
        return (
            self.evaluate(
                "(() => { const t = document.querySelector('.ivmap .tip');"
                " return t && t.style.display !== 'none' ? t.textContent : ''; })()"
            )
            or ""
        )

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
