"""Secrets never leave the process: URLs and messages with their passwords and tokens masked.

Applied wherever a URL can be written or printed: run records, baselines, reports, history
exports and error lines. A URL's password (`user:secret@host`) and query parameters whose
names say they carry a secret (`token`, `password`, `secret`, `key`, `auth`) become `***`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAMS = re.compile(r"token|passw|pwd|secret|key|auth|credential", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """`url` with its password and secret query parameters masked; text that is no URL is returned as is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMS.search(name) for name, _ in pairs):
            query = urlencode([(n, MASK if _SECRET_PARAMS.search(n) else v) for n, v in pairs], safe="*/:")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (error messages often quote the URL they failed on)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)
