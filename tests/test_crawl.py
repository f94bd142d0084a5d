"""Crawl the real kiosk over HTTP in both languages: every link answers, nothing points outside the kiosk."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import pytest

MAX_URLS = 3_000  # a bound per language, far above the demo's size, so a link loop fails instead of hanging

# Attributes whose value the browser may request or navigate to.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "srcset", "poster", "data", "xlink:href", "background", "ping", "manifest"}
)
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[\w.-]+[\w/.?=&%#:~-]*""", re.IGNORECASE)
READABLE_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder"})
# Interface text is written in English and translated: in Chinese, a Latin-only text was missed.
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
HAN = re.compile(r"[\u3400-\u9fff]")
# CSP sources that keep every request on the kiosk; data: is inline content, not a request.
LOCAL_SOURCES = frozenset({"'self'", "'none'", "data:"})


# Every kind of screen (and the files they load) the crawl must reach, by URL path.
SCREENS = {
    "home screen": r"/",
    "power categories": r"/powers",
    "power list": r"/powers/category/\d+",
    "power item": r"/powers/[^/]+",
    "ten ones": r"/ten-ones",
    "notices": r"/notices",
    "notices archive": r"/notices/archive",
    "notice list": r"/notices/[^/]+",
    "notice archive": r"/notices/[^/]+/archive",
    "notice": r"/notice/[^/]+",
    "catalogue areas": r"/catalogue",
    "catalogue area": r"/catalogue/area/\d+",
    "catalogue item": r"/catalogue/[^/]+",
    "contacts": r"/contacts",
    "search": r"/search",
    "photo": r"/media/[0-9a-f]{64}\.\w+",
    "stylesheet": r"/static/kiosk\.css",
}
DETAIL_PAGE = re.compile(r"/(powers|notice|catalogue)/[^/]+")  # the pages with a QR code


@dataclass(frozen=True)
class Reference:
    """A URL as written in a page, stylesheet or script, and where it was written."""

    value: str
    where: str  # e.g. "<a href>", "inline CSS", "stylesheet"


@dataclass
class ParsedPage:
    """What one HTML page refers to, and the facts about it the checks need."""

    references: list[Reference] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    inline_css: list[str] = field(default_factory=list)
    inline_scripts: int = 0
    qr_urls: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # what a person reads: text, alt, title, aria-label
    lang: str = ""


class PageParser(HTMLParser):
    """Collect every URL-bearing attribute, element ids, inline CSS and the QR code's shown URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._raw_tag: str | None = None  # inside <style> or <script>: code, not text
        self._qr_url_tag: str | None = None  # inside the element showing the QR code's URL
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                for url in _srcset_urls(value) if name == "srcset" else [value]:
                    self.page.references.append(Reference(url, f"<{tag} {name}>"))
            elif name == "id":
                self.page.ids.add(value)
            elif name == "style":
                self.page.inline_css.append(value)
            elif name == "lang" and tag == "html":
                self.page.lang = value
            elif name == "class" and "qr-url" in value.split():
                self._qr_url_tag, self._text = tag, []
            elif name in READABLE_ATTRIBUTES:
                self.page.texts.append(value)
        if tag in ("style", "script"):
            self._raw_tag = tag
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self.page.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._raw_tag:
            self._raw_tag = None
        if tag == self._qr_url_tag:
            self.page.qr_urls.append("".join(self._text).strip())
            self._qr_url_tag = None

    def handle_data(self, data: str) -> None:
        if self._raw_tag:
            if self._raw_tag == "style":
                self.page.inline_css.append(data)
        elif self._qr_url_tag:
            self._text.append(data)
        elif data.strip():
            self.page.texts.append(data.strip())


def _srcset_urls(srcset: str) -> list[str]:
    return [candidate.split()[0] for candidate in srcset.split(",") if candidate.strip()]


def css_references(css: str, where: str) -> list[Reference]:
    """Return every url(...) and @import target in *css*."""
    found = [next(group for group in match.groups() if group is not None) for match in CSS_URL.finditer(css)]
    found += [match.group(1) or match.group(2) for match in CSS_IMPORT.finditer(css)]
    return [Reference(url.strip(), where) for url in found]


@dataclass(frozen=True)
class Answer:
    """One HTTP response, read whole."""

    url: str
    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    def text(self) -> str:
        return self.body.decode(self.headers.get_content_charset() or "utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Report redirects as they are: a crawled link must answer 200 itself, not through a redirect."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def kiosk_opener(jar: http.cookiejar.CookieJar) -> urllib.request.OpenerDirector:
    """Return an opener with its own cookie jar that never uses a proxy (all traffic stays on 127.0.0.1)."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar), _NoRedirects()
    )


def fetch(opener: urllib.request.OpenerDirector, url: str) -> Answer:
    try:
        with opener.open(url, timeout=30) as response:
            return Answer(url, int(response.status), response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(url, error.code, error.headers, error.read())


def without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


@dataclass
class CrawlResult:
    """What a crawl visited and every problem it met (an empty list is a pass)."""

    pages: dict[str, ParsedPage] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    language_links: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    finished: bool = False


class Crawler:
    """Breadth-first crawl of the kiosk from one URL, with one cookie jar (the villager's session)."""

    def __init__(self, base: str, opener: urllib.request.OpenerDirector) -> None:
        self.base = base
        self.origin = urlsplit(base).netloc
        self.opener = opener
        # Language and elder-mode links change the session: they are checked with a separate session.
        self.probe = kiosk_opener(http.cookiejar.CookieJar())
        self.result = CrawlResult()
        self._queue: deque[str] = deque()
        self._linked_from: dict[str, str] = {}

    def run(self, start: str = "/") -> CrawlResult:
        self._enqueue(urljoin(self.base, start), "(start)")
        while self._queue:
            if len(self.result.answers) + len(self.result.language_links) >= MAX_URLS:
                return self.result
            self._visit(self._queue.popleft())
        self.result.finished = True
        return self.result

    def _enqueue(self, url: str, source: str) -> None:
        if url not in self._linked_from:
            self._linked_from[url] = source
            self._queue.append(url)

    def _problem(self, url: str, message: str) -> None:
        """Record a problem with a URL's answer, naming the first page that links to it."""
        self.result.problems.append(f"{url} (linked from {self._linked_from.get(url, '?')}): {message}")

    def _content_problem(self, source: str, message: str) -> None:
        """Record a problem in what a page, stylesheet or script says."""
        self.result.problems.append(f"{source}: {message}")

    def _visit(self, url: str) -> None:
        answer = fetch(self.opener, url)
        self.result.answers[url] = answer.status
        if answer.status != 200:
            self._problem(url, f"answered {answer.status}, not 200")
            return
        if answer.content_type == "text/html":
            self._check_page(answer)
        elif answer.content_type == "text/css":
            self._follow(url, css_references(answer.text(), "stylesheet"), ids=None)
        elif "javascript" in answer.content_type:
            for match in ABSOLUTE_URL.finditer(answer.text()):
                if urlsplit(urljoin(url, match.group())).netloc != self.origin:
                    self._content_problem(url, f"script refers outside the kiosk: {match.group()!r}")

    def _check_page(self, answer: Answer) -> None:
        url = answer.url
        policy = answer.headers.get("Content-Security-Policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        if directives.get("default-src") != ["'self'"]:
            self._content_problem(url, f"Content-Security-Policy lacks default-src 'self': {policy!r}")
        for name, sources in directives.items():
            outside = [s for s in sources if s not in LOCAL_SOURCES]
            if name.endswith("-src") and outside:
                self._content_problem(url, f"Content-Security-Policy {name} allows {outside}")
        parser = PageParser()
        parser.feed(answer.text())
        parser.close()
        page = parser.page
        self.result.pages[url] = page
        # The policy forbids inline styles and scripts: the browser would silently drop them.
        if page.inline_css:
            self._content_problem(url, f"inline CSS, blocked by the Content-Security-Policy: {page.inline_css[:3]}")
        if page.inline_scripts:
            blocked = f"{page.inline_scripts} inline script(s), blocked by the Content-Security-Policy"
            self._content_problem(url, blocked)
        for qr_url in page.qr_urls:
            linked = [r for r in page.references if qr_url and qr_url in r.value]
            if linked:
                self._content_problem(url, f"the QR code's public URL {qr_url} is linked: {linked}")
        references = page.references + [r for css in page.inline_css for r in css_references(css, "inline CSS")]
        self._follow(url, references, ids=page.ids)

    def _follow(self, source: str, references: list[Reference], ids: set[str] | None) -> None:
        for reference in references:
            value = reference.value.strip()
            if value.lower().startswith(("tel:", "data:")):
                continue  # a phone number to dial; inline data, not a request
            if value.startswith("#"):
                if ids is not None and value[1:] not in ids:
                    self._content_problem(source, f"{reference.where} {value!r} names no element on the page")
                continue
            target = without_fragment(urljoin(source, value))
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https") or parts.netloc != self.origin:
                self._content_problem(source, f"{reference.where} refers outside the kiosk: {value!r}")
            elif reference.where == "<form action>":
                continue  # a form the villager posts (a rating, a print): inside the kiosk, not fetched
            elif parts.path.startswith("/lang/") or parts.path == "/elder":
                self._check_language_link(target, source)
            elif parts.path == "/search" and len(parse_qs(parts.query).get("q", [""])[0]) > 1 and "q=" in source:
                continue  # typing on: from one search to the next letter, without end; the first letters suffice
            else:
                self._enqueue(target, source)

    def _check_language_link(self, url: str, source: str) -> None:
        if url in self.result.language_links:
            return
        self.result.language_links.add(url)
        answer = fetch(self.probe, url)
        location = urljoin(url, answer.headers.get("Location", ""))
        wanted = urljoin(self.base, parse_qs(urlsplit(url).query).get("next", ["/"])[0])
        if answer.status not in (302, 303) or location != wanted:
            message = f"answered {answer.status} to {location!r}, not a redirect back to {wanted!r}"
            self.result.problems.append(f"{url} (linked from {source}): {message}")
            return
        landing = fetch(self.probe, location)
        if landing.status != 200:
            message = f"lands on {location}, which answers {landing.status}"
            self.result.problems.append(f"{url} (linked from {source}): {message}")


def crawl_both_languages(base: str) -> dict[str, CrawlResult]:
    """Crawl as a villager would: in the default language, then after tapping English, with one cookie jar."""
    jar = http.cookiejar.CookieJar()
    opener = kiosk_opener(jar)
    chinese = Crawler(base, opener).run()
    switch = fetch(opener, urljoin(base, "/lang/en"))
    assert switch.status in (302, 303), f"/lang/en answered {switch.status}"
    assert any(cookie.name == "session" for cookie in jar), "switching language set no session cookie"
    english = Crawler(base, opener).run()
    return {"zh-Hans": chinese, "en": english}


@pytest.fixture(scope="module")
def crawls(live_server: str) -> dict[str, CrawlResult]:
    return crawl_both_languages(live_server)


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
def test_crawl_finishes_and_reaches_every_screen(crawls: dict[str, CrawlResult], lang: str) -> None:
    result = crawls[lang]
    assert result.finished, f"more than {MAX_URLS} URLs: the crawl was cut off"
    paths = [urlsplit(url).path for url in result.answers]
    for screen, pattern in SCREENS.items():
        assert any(re.fullmatch(pattern, path) for path in paths), f"the {lang} crawl never reached the {screen}"
    assert result.language_links, "no language-switch links were seen"


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
def test_every_link_answers_and_stays_inside_the_kiosk(crawls: dict[str, CrawlResult], lang: str) -> None:
    result = crawls[lang]
    assert result.problems == []
    assert result.answers and set(result.answers.values()) == {200}


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
def test_pages_stay_in_the_chosen_language(crawls: dict[str, CrawlResult], lang: str) -> None:
    languages = {url: page.lang for url, page in crawls[lang].pages.items()}
    assert languages
    assert {url: code for url, code in languages.items() if code != lang} == {}


def test_qr_codes_show_the_public_url_as_text_only(crawls: dict[str, CrawlResult], live_server: str) -> None:
    pages = crawls["zh-Hans"].pages
    with_qr = {url: page for url, page in pages.items() if page.qr_urls}
    detail_pages = [url for url in pages if DETAIL_PAGE.fullmatch(urlsplit(url).path)]
    assert detail_pages
    assert set(detail_pages) <= set(with_qr), "a detail page has no QR code"
    for url, page in with_qr.items():
        (qr_url,) = page.qr_urls
        assert qr_url.startswith(("http://", "https://")), f"{url}: QR text is not a URL: {qr_url!r}"
        assert urlsplit(qr_url).netloc != urlsplit(live_server).netloc
        assert all(qr_url not in reference.value for reference in page.references)


def test_chinese_pages_have_no_untranslated_interface_text(crawls: dict[str, CrawlResult]) -> None:
    untranslated = {
        (urlsplit(url).path, text)
        for url, page in crawls["zh-Hans"].pages.items()
        for text in page.texts
        # "English" is the name of the other language, written in it on purpose.
        if LATIN_WORD.search(text) and not HAN.search(text) and text != "English"
    }
    assert sorted(untranslated) == []
