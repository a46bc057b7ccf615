"""``GET /``: a page a person can read, whose every link answers 200 (no screenshot)."""

from __future__ import annotations

from html.parser import HTMLParser

import aiohttp

from monitor import __version__
from monitor.config import load
from monitor.events import Alert
from monitor.observability import status_page
from monitor.runtime.embedded import run_app


class Page(HTMLParser):
    """Collects the links, the text and the open/close balance of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br"):
            self.stack.append(tag)
        self.links += [v for k, v in attrs if k == "href" and v]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_the_index_page_shows_state_and_links_that_answer() -> None:
    cfg = load(None, env={}, overrides={"http.listen": "127.0.0.1:0"})
    async with run_app(cfg) as app:  # a live daemon with no venue: ready
        base = "http://127.0.0.1:%d" % app.http_port
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/") as resp:
                assert resp.status == 200
                assert resp.content_type == "text/html"
                page = Page()
                page.feed(await resp.text())
            statuses = {}
            for link in page.links:
                async with session.get(base + link) as resp:
                    statuses[link] = resp.status
    text = " ".join(page.text)
    assert page.errors == []
    assert page.stack == []  # every tag closed
    assert "liqmon %s" % __version__ in text
    assert "Role: run" in text
    assert "ready" in text
    assert "Up 0 h" in text
    assert "Active alerts (0)" in text
    assert set(page.links) == {"/metrics", "/healthz", "/readyz", "/api/v1/alerts"}
    assert statuses == dict.fromkeys(page.links, 200)
    assert "/api/v1/margin-changes" in text


def test_alerts_and_checks_are_escaped() -> None:
    alert = Alert(
        alert_id="a", kind="cascade", scope="<BTC>", state="firing", severity="critical",
        wave=1, started_ns=0, ts_ns=0, summary="$1M & <script>", evidence={},
    )  # fmt: skip
    html = status_page.render(
        ready=False, checks={"okx/prices": "down (error: <x>)"}, alerts=[alert], uptime_s=3725,
        role="aggregate",
    )  # fmt: skip
    page = Page()
    page.feed(html)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert page.stack == []
    text = " ".join(page.text)
    assert "NOT READY" in text
    assert "Up 1 h 02 min" in text
    assert "down (error: <x>)" in text  # the parser unescapes what the page escaped
