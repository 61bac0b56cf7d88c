"""Bad URLs for every engine, with no server anywhere: one line naming the engine and what to do.

A URL of the wrong scheme (another engine's, "not a url", an http URL for Redis) is refused
when the adapter is built, before any driver sees it; an unreachable port with the right
scheme is refused at connect. Either way a UserError (EngineUnavailable for URLs) of one line
with the password masked, never the driver's ValueError, ConfigurationError or TypeError.
"""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.engines.registry import create_adapter
from harness.errors import EngineUnavailable, UserError

SECRET = "Pa55-w0rd"
ENGINES = ("postgres", "redis", "mongodb", "opensearch", "elasticsearch", "influxdb", "neo4j", "fake")
UNREACHABLE = {  # the right scheme, a port nothing listens on
    "postgres": f"postgresql://dbarena:{SECRET}@127.0.0.1:1/postgres",
    "redis": f"redis://:{SECRET}@127.0.0.1:1/0",
    "mongodb": f"mongodb://dbarena:{SECRET}@127.0.0.1:1/dbarena?serverSelectionTimeoutMS=500",
    "opensearch": f"http://dbarena:{SECRET}@127.0.0.1:1",
    "elasticsearch": f"http://dbarena:{SECRET}@127.0.0.1:1",
    "influxdb": f"http://127.0.0.1:1?org=-&bucket=dbarena/autogen&token=user:{SECRET}",
    "neo4j": f"bolt://neo4j:{SECRET}@127.0.0.1:1",
}
WRONG = {  # every engine refuses these schemes
    "ipv6 http": "http://[::1]:1",
    "not a url": "not a url",
    "empty": "",
    "postgres url": f"postgresql://u:{SECRET}@127.0.0.1:1/db",
    "redis url": f"redis://:{SECRET}@127.0.0.1:1/0",
    "bolt url": "bolt://127.0.0.1:1",
    "mongodb url": "mongodb://127.0.0.1:1/x",
    "broken ipv6": "redis://[::1",
    "port out of range": "http://127.0.0.1:99999",
}
HTTP_ENGINES = ("opensearch", "elasticsearch", "influxdb")


def refusal(engine: str, url: str) -> str:
    """The one line an adapter gives for `url`, at construction or at connect."""
    with pytest.raises(UserError) as caught:
        adapter = create_adapter(engine, url)
        try:
            adapter.connect()
        finally:
            adapter.close()
    message = str(caught.value)
    assert "\n" not in message and message.strip(), message
    assert SECRET not in message, message
    assert engine in message, message
    return message


def wrong_cases() -> list[tuple[str, str]]:
    cases = []
    for engine in ENGINES:
        for name, url in WRONG.items():
            own = ((engine == "postgres" and name == "postgres url") or (engine == "redis" and name == "redis url")
                   or (engine == "neo4j" and name == "bolt url") or (engine == "mongodb" and name == "mongodb url"))
            if not own and not (engine in HTTP_ENGINES and name == "ipv6 http"):
                cases.append((engine, url))
    return cases


UNENCODED = {  # a password holding a character that ends the URL's authority early (RFC 3986 3.2)
    "postgres": "postgresql://dbarena:{pw}@127.0.0.1:1/postgres",
    "redis": "redis://:{pw}@127.0.0.1:1/0",
    "mongodb": "mongodb://dbarena:{pw}@127.0.0.1:1/dbarena",
    "opensearch": "http://dbarena:{pw}@127.0.0.1:1",
    "neo4j": "bolt://neo4j:{pw}@127.0.0.1:1",
}


@pytest.mark.parametrize("cut", ["#", "/", "?"])
@pytest.mark.parametrize("engine", sorted(UNENCODED))
def test_a_password_that_is_not_percent_encoded_is_never_quoted_in_part(engine: str, cut: str) -> None:
    """The parser's own message quotes what it read as a port: the password's first part. Neither part may show,
    and the line says to percent-encode."""
    first, second = "Fr0nt-part", "Back-part9"
    message = refusal(engine, UNENCODED[engine].format(pw=f"{first}{cut}{second}"))
    assert first not in message and second not in message, message
    assert "percent-encode" in message and "%23" in message, message


@pytest.mark.parametrize(("engine", "url"), wrong_cases())
def test_a_url_of_another_scheme_is_refused_before_the_driver(engine: str, url: str) -> None:
    message = refusal(engine, url)
    assert "give one" in message  # what to do: the schemes it reads and an example


@pytest.mark.parametrize("engine", sorted(UNREACHABLE))
def test_an_unreachable_port_is_one_line(engine: str) -> None:
    message = refusal(engine, UNREACHABLE[engine])
    assert "is not reachable" in message and f"DBARENA_{engine.upper()}_URL" in message


@pytest.mark.parametrize("engine", HTTP_ENGINES)
def test_http_engines_on_an_ipv6_loopback_nothing_listens_on(engine: str) -> None:
    url = "http://[::1]:1" + ("?org=-&bucket=b&token=t" if engine == "influxdb" else "")
    assert "is not reachable" in refusal(engine, url)


def test_engine_specific_url_mistakes() -> None:
    assert "needs ?bucket=" in refusal("influxdb", "http://127.0.0.1:1")
    assert "the only URL option is refresh" in refusal("opensearch", f"http://127.0.0.1:1?token={SECRET}")
    assert "options are numbers" in refusal("fake", "fake://x?latency_us=fast")
    assert "is not reachable" in refusal("postgres", "host=127.0.0.1 port=1 dbname=postgres connect_timeout=2")
    assert "is not reachable" in refusal("redis", "redis://127.0.0.1:1/0?socket_timeout=fast")


def test_the_refusal_is_an_engine_unavailable() -> None:
    with pytest.raises(EngineUnavailable, match="give one starting with redis:// or rediss:// or unix://"):
        create_adapter("redis", "http://[::1]:1")


@pytest.mark.parametrize(("engine", "url"), [("redis", "http://[::1]:1"), ("redis", "not a url"),
                                             ("redis", f"postgresql://u:{SECRET}@127.0.0.1:1/db"),
                                             ("neo4j", "redis://127.0.0.1:1/0"), ("postgres", "bolt://127.0.0.1:1")])
def test_bench_refuses_before_anything_starts(engine: str, url: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    assert main(["bench", "--engine", engine, "--workload", "kv-cache", "--url", url]) == ExitCode.USER_ERROR
    out, err = capsys.readouterr()
    assert not out and len(err.strip().splitlines()) == 1 and "Traceback" not in err and SECRET not in err, err
    assert err.startswith(f"dbarena: {engine} URL "), err


@pytest.mark.postgres
def test_a_postgres_that_answers_but_has_no_such_database_or_role_says_so(postgres_url: str) -> None:
    """The server answered and refused: the line points at the URL's user, password and database, not at reachability."""
    base = postgres_url.rsplit("/", 1)[0]
    for url in (f"{base}/no_such_database", base.replace("postgres@", "no_such_role@") + "/postgres"):
        message = refusal("postgres", url)
        assert "answered but refused the connection" in message and "is not reachable" not in message, message
        assert "user, password and database" in message


@pytest.mark.redis
def test_a_redis_that_answers_but_refuses_the_database_or_password_says_so(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    for url in (f"{base}/99", base.replace("redis://", "redis://:wrong-password@") + "/0"):
        message = refusal("redis", url)
        assert "answered but refused the connection" in message and "is not reachable" not in message, message
        assert "wrong-password" not in message
