"""Secrets never leave the process: connection strings, messages and data with their secrets masked.

What counts as a secret, wherever it shows up:
- a URL's password (`redis://:secret@host`, `bolt://user:secret@host`, `mongodb://user:secret@host`),
  also when it is written without percent-encoding (`pa/ss`, `p@ss`) or cut short by a truncated message;
- URL query parameters whose names say they carry one (`?token=`, `?password=`, `?sslkey=`, `?authToken=`,
  InfluxDB 1.x `?p=`);
- `name=value` settings whose name ends in password, pwd, secret, token, api key or credentials: a libpq
  key/value DSN (`host=db password=secret`), `DBARENA_X_PASSWORD=...`, `token: ...`, `{'password': '...'}`;
- HTTP credentials: `Authorization: Token ...`, `Bearer ...`.
Each becomes `***`; everything else is kept exactly as it was.

`redact_url` masks one connection string, `redact_text` every one inside a message, `redact_data` every
string inside a record (dicts, lists, tuples, pydantic models; values under secret-named keys too), and
`redact_output` makes the process's stdout and stderr mask whatever is written to them. They are applied
at every boundary where something is written or printed: the run record (built or read), every file
written under the results folder, progress lines, error samples and the CLI's messages.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any, TextIO, TypeVar, cast

from pydantic import BaseModel

__all__ = ["MASK", "RedactingStream", "is_secret_name", "redact_data", "redact_output", "redact_text", "redact_url"]

MASK = "***"
T = TypeVar("T")

# Query parameters carrying a secret (a substring of the name, or InfluxDB 1.x's `p`); MongoDB's authSource
# and authMechanism name a database and a method (authMechanismProperties may hold a session token).
_SECRET_PARAM = re.compile(r"token|passw|pwd|secret|key|auth(?!(source|mechanism)$)|credential|signature|^p$", re.IGNORECASE)
# Settings and mapping keys carrying a secret: the name ENDS in one of these words (db_password,
# DBARENA_TOKEN, api-key, redis's requirepass and masterauth; not password_encryption or tokenizer),
# or is `pass` (alone or after a separator: user_pass, not bypass).
_SECRET_WORDS = (r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
                 r"credentials?|requirepass|masterauth")
_SECRET_KEY = re.compile(rf"[\w.-]*?(?:{_SECRET_WORDS})|(?:[\w.-]*?[_.-])?pass", re.IGNORECASE)
# `scheme://`, or `scheme:/` when a URL went through a file path (Path("redis://...") keeps one slash).
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*:/{1,2})(.*)", re.DOTALL)
# A URL inside text ends at whitespace, a quote, a bracket of markup or a backslash (a JSON escape).
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:/{1,2}[^\s'\"<>`\\]+")
_TRAILING = re.compile(r"[.,;:!?)\]}]+$")
_QUERY_PARAM = re.compile(r"([?&;#])([^=&;#]*)=([^&;#]*)")
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# A setting is found by the end of its name (fast to scan for), then its whole name is read backwards.
# Scanned on the lower-cased text (a case-insensitive scan is several times slower on a large record);
# the case-insensitive twin serves text whose lower-case form has another length (some Unicode).
_SETTING_END = re.compile(rf"(?:{_SECRET_WORDS}|pass)(?=['\"]?\s*[=:])")
_SETTING_END_ANY_CASE = re.compile(_SETTING_END.pattern, re.IGNORECASE)
_SETTING_HINTS = ("pass", "pwd", "secret", "token", "key", "credential", "masterauth")  # text without them has none
_SETTING_VALUE = re.compile(rf"(['\"]?\s*[=:]\s*)({_QUOTED}|[^\s'\"\\&<>]+)")
_AUTHORIZATION = re.compile(r"(authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|token|digest)\s+)?[^\s'\"\\]+",
                            re.IGNORECASE)
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_HINT = re.compile(r"[=:]|bearer", re.IGNORECASE)  # text with none of these carries no secret


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a setting or mapping key named `name` holds a secret (its value is masked whole)."""
    return _SECRET_KEY.fullmatch(name) is not None


def _split_authority(rest: str) -> tuple[str, str]:
    """`rest` (after `scheme://`) -> (authority, path+query+fragment).

    A password written without percent-encoding may hold `/`, `?`, `#` or `@`: if the standard
    authority has no `@` but one comes later, after a `:`, everything up to the last `@` is taken
    as `user:password` (masking too much beats showing a password).
    """
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@")
    if "@" not in rest[:end] and at > end and ":" in rest[:at]:
        end = min((i for i in (rest.find(c, at) for c in "/?#") if i >= 0), default=len(rest))
    return rest[:end], rest[end:]


def _mask_authority(authority: str) -> str:
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        return f"{user}:{MASK}@{host}" if colon else authority
    # No `@`: a message cut short inside the password ("redis://:secr") looks like host:port with a
    # port that is not a number. A real port is digits; an IPv6 host ends in "]".
    host, colon, port = authority.rpartition(":")
    if colon and port and not port.isdigit() and not authority.endswith("]"):
        return f"{host}:{MASK}"
    return authority


def _mask_query(tail: str) -> str:
    def mask(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}={MASK}" if value and _SECRET_PARAM.search(name) else match.group()

    return _QUERY_PARAM.sub(mask, tail)


def _name_start(text: str, end: int) -> int:
    """Where the name (letters, digits, `_.-`) ending at `end` starts."""
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    return start


def _mask_pairs(text: str) -> str:
    """`name=value`, `name: value` and `'name': 'value'` pairs whose name says secret, value masked."""
    lowered = text.lower()
    if not any(hint in lowered for hint in _SETTING_HINTS):
        return text
    ends = _SETTING_END.finditer(lowered) if len(lowered) == len(text) else _SETTING_END_ANY_CASE.finditer(text)
    parts, last = [], 0
    for match in ends:
        if match.start() < last or not is_secret_name(text[_name_start(text, match.start()):match.end()]):
            continue
        value = _SETTING_VALUE.match(text, match.end())
        if value is None:
            continue
        sep, found = value.groups()
        quote = found[0] if found[0] in "'\"" and len(found) > 1 and found[-1] == found[0] else ""
        parts += [text[last:match.end()], sep, quote, MASK, quote]
        last = value.end()
    return "".join([*parts, text[last:]]) if parts else text


def _mask_settings(text: str) -> str:
    """Secret settings (`_mask_pairs`) and HTTP credentials in `text`, masked."""
    text = _mask_pairs(text)
    if "uthoriz" in text or "UTHORIZ" in text:
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + (f"{m.group(2)} " if m.group(2) else "") + MASK, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return text


def redact_url(url: str) -> str:
    """A connection string (URL or libpq key=value DSN) with its password and secrets masked.

    Text that is neither is returned as is.
    """
    match = _SCHEME.fullmatch(url)
    if match is None:
        return _mask_settings(url) if _HINT.search(url) else url
    scheme, rest = match.groups()
    authority, tail = _split_authority(rest)
    redacted = scheme + _mask_authority(authority) + _mask_query(tail)
    return redacted if redacted != url else url


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted, and secret settings and credentials masked.

    Error messages quote the URL or DSN they failed on; a driver may echo its settings.
    """
    if not _HINT.search(text):
        return text
    parts, last = [], 0
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group()
        punctuation = _TRAILING.search(url)  # "failed on redis://h:1/0: refused": the colon is the sentence's
        end = match.end() - (len(punctuation.group()) if punctuation else 0)
        parts += [_mask_settings(text[last:match.start()]), redact_url(text[match.start():end])]
        last = end
    parts.append(_mask_settings(text[last:]))
    redacted = "".join(parts)
    return redacted if redacted != text else text


_ATOMS = (int, float, bool, type(None))


def _mask_value(value: Any) -> Any:
    return MASK if isinstance(value, str) and value else redact_data(value)


def _redact_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    out, changed = {}, False
    for key, item in value.items():  # the common cases inline: a record has tens of thousands of small dicts
        if type(key) is str:
            new_key = redact_text(key) if _HINT.search(key) else key
            new_item = _mask_value(item) if is_secret_name(key) else item if type(item) in _ATOMS else redact_data(item)
        else:
            new_key, new_item = key, redact_data(item)
        changed = changed or new_key is not key or new_item is not item
        out[new_key] = new_item
    return out if changed else value


def _redact_model(value: BaseModel) -> BaseModel:
    updates = {}
    for name, item in value.__dict__.items():
        redacted = _mask_value(item) if is_secret_name(name) else redact_data(item)
        if redacted is not item:
            updates[name] = redacted
    return value.model_copy(update=updates) if updates else value


def _redact_sequence(value: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    items = [redact_data(item) for item in value]
    if all(a is b for a, b in zip(items, value, strict=True)):
        return value
    return items if isinstance(value, list) else tuple(items)


def redact_data(value: T) -> T:
    """`value` with every string inside it redacted and the values of secret-named keys masked.

    Walks dicts, lists, tuples and pydantic models (copied, never changed in place); returns
    `value` itself when nothing in it needed masking.
    """
    found: Any = value
    if type(found) in _ATOMS:
        return value
    if isinstance(found, str):
        found = redact_text(found)
    elif isinstance(found, dict):
        found = _redact_dict(found)
    elif type(found) in (list, tuple):
        found = _redact_sequence(found)
    elif isinstance(found, BaseModel):
        found = _redact_model(found)
    return cast(T, found)


class RedactingStream:
    """A text stream that masks secrets in everything written to it, then passes it on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, buffer ...
        return getattr(self.stream, name)


def redact_output(stdout: bool = True) -> None:
    """From now on, sys.stderr (and sys.stdout unless `stdout=False`) mask secrets in what is written to them.

    Covers every line the process prints (messages, argparse errors, logging, warnings, tracebacks
    of a bug) however it was produced; call it before logging is configured (a handler keeps the
    stream it was given). Idempotent; the streams stay wrapped until the process ends (or a test
    harness puts its own back). A process whose stdout is a protocol passes `stdout=False`.
    """
    if stdout and not isinstance(sys.stdout, RedactingStream) and sys.stdout is not None:
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream) and sys.stderr is not None:
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
