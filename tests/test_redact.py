"""harness.redact: connection strings, messages and data with their secrets masked, everything else as it was."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from harness.metrics.models import OperationResult
from harness.redact import MASK, RedactingStream, is_secret_name, redact_data, redact_output, redact_text, redact_url

SECRET = "Kn0wnPw-7"


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://:Kn0wnPw-7@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("redis://default:Kn0wnPw-7@127.0.0.1:6379/0", "redis://default:***@127.0.0.1:6379/0"),
    ("bolt://neo4j:Kn0wnPw-7@127.0.0.1:7687", "bolt://neo4j:***@127.0.0.1:7687"),
    ("neo4j+s://neo4j:Kn0wnPw-7@db.example.com", "neo4j+s://neo4j:***@db.example.com"),
    ("mongodb://bench:Kn0wnPw-7@h1:27017,h2:27017/dbarena?replicaSet=rs0&authSource=admin",
     "mongodb://bench:***@h1:27017,h2:27017/dbarena?replicaSet=rs0&authSource=admin"),
    ("postgresql://bench:Kn0wnPw-7@127.0.0.1:5432/postgres", "postgresql://bench:***@127.0.0.1:5432/postgres"),
    ("postgresql://bench@127.0.0.1/postgres?password=Kn0wnPw-7&sslmode=disable",
     "postgresql://bench@127.0.0.1/postgres?password=***&sslmode=disable"),
    ("http://127.0.0.1:8086?org=-&bucket=dbarena/autogen&token=user:Kn0wnPw-7",
     "http://127.0.0.1:8086?org=-&bucket=dbarena/autogen&token=***"),
    ("http://127.0.0.1:8086/query?db=x&u=admin&p=Kn0wnPw-7", "http://127.0.0.1:8086/query?db=x&u=admin&p=***"),
    ("https://search:9200/?api_key=Kn0wnPw-7", "https://search:9200/?api_key=***"),
    ("mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:Kn0wnPw-7",
     "mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=***"),
    ("fake://user:Kn0wnPw-7@host?token=Kn0wnPw-7&latency_us=100", "fake://user:***@host?token=***&latency_us=100"),
    # written without percent-encoding: the password holds / or @ or ?
    ("redis://:Kn0w/nPw-7@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("redis://:Kn0w@nPw-7@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("redis://:Kn0w?nPw-7@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    # a message cut inside the password: no @ left, a "port" that is no number
    ("redis://:Kn0wnPw", "redis://:***"),
    ("redis://user:Kn0wnPw", "redis://user:***"),
    # libpq key/value DSN
    ("host=127.0.0.1 port=5432 user=bench password=Kn0wnPw-7 dbname=postgres",
     "host=127.0.0.1 port=5432 user=bench password=*** dbname=postgres"),
    ("host=db password = 'Kn0wn Pw\\' 7' user=bench", "host=db password = '***' user=bench"),
])
def test_redact_url_masks_every_way_a_connection_string_carries_a_secret(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert SECRET not in redact_url(url)
    assert redact_url(expected) == expected  # idempotent


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0", "http://[::1]:1", "http://[::1]", "fake://", "fake://?latency_us=100&jitter=0.2",
    "http://h?", "bolt://neo4j@127.0.0.1:7687", "not a url", "", "host=127.0.0.1 port=5432 dbname=postgres",
    "mongodb://127.0.0.1:27017/dbarena", "http://127.0.0.1:8086?org=-&bucket=dbarena/autogen&token=",
])
def test_redact_url_keeps_what_carries_no_secret_exactly(url: str) -> None:
    assert redact_url(url) is url


@pytest.mark.parametrize(("text", "expected"), [
    ("redis at redis://:Kn0wnPw-7@127.0.0.1:1/0 is not reachable: Connection refused",
     "redis at redis://:***@127.0.0.1:1/0 is not reachable: Connection refused"),
    ("error connecting to 'bolt://neo4j:Kn0wnPw-7@h:7687' (refused)", "error connecting to 'bolt://neo4j:***@h:7687' (refused)"),
    ('<a href="http://h:8086?token=Kn0wnPw-7&amp;org=x">', '<a href="http://h:8086?token=***&amp;org=x">'),
    ("invalid dsn: host=db password=Kn0wnPw-7 sslmode=x", "invalid dsn: host=db password=*** sslmode=x"),
    ("DBARENA_POSTGRES_PASSWORD=Kn0wnPw-7 dbarena bench", "DBARENA_POSTGRES_PASSWORD=*** dbarena bench"),
    ("kwargs {'password': 'Kn0wnPw-7', 'user': 'bench'}", "kwargs {'password': '***', 'user': 'bench'}"),
    ('{"token": "Kn0wnPw-7", "org": "x"}', '{"token": "***", "org": "x"}'),
    ("Auth(scheme='basic', principal='neo4j', credentials='Kn0wnPw-7')",
     "Auth(scheme='basic', principal='neo4j', credentials='***')"),
    ("headers: Authorization: Token Kn0wnPw-7 sent", "headers: Authorization: Token *** sent"),
    ("Authorization: Bearer Kn0wnPw-7", "Authorization: Bearer ***"),
    ("got bearer Kn0wnPw-7.x", "got bearer ***"),
    # a URL that went through Path() keeps one slash
    ("redis:/:Kn0wnPw-7@127.0.0.1:1/0: no such file", "redis:/:***@127.0.0.1:1/0: no such file"),
    ("CONFIG GET requirepass -> requirepass=Kn0wnPw-7", "CONFIG GET requirepass -> requirepass=***"),
    ("PASSWORD=Kn0wnPw-7 Token: Kn0wnPw-7", "PASSWORD=*** Token: ***"),
    ("İstanbul: password=Kn0wnPw-7", "İstanbul: password=***"),  # lower() changes the length of "İ"
])
def test_redact_text_masks_urls_dsns_settings_and_credentials_inside_messages(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected


@pytest.mark.parametrize("text", [
    'FATAL:  password authentication failed for user "bench"',  # a driver's words, no secret in them
    "invalid username-password pair or user is disabled.",
    "password_encryption=scram-sha-256",  # a setting about passwords, not one
    "errors in read: ConnectionError: fake engine is down",
    "p99 4.18 ms at 12:00:01, key=user42",
    "run record: /tmp/results/runs/20260101T000000Z-redis-kv-cache-1a2b.json",
])
def test_redact_text_keeps_text_without_secrets_exactly(text: str) -> None:
    assert redact_text(text) is text


def test_redacting_json_text_keeps_it_valid_json() -> None:
    """Files are redacted as text when written: a JSON escape is never cut in half."""
    value = {"notes": [f'quoted "redis://:{SECRET}@h:1/0" here', f"dsn password={SECRET}\\x", f'x\\"token={SECRET}"'],
             "errors": f"url=http://h?token={SECRET}\\", "password": SECRET, "nested": {"api_key": SECRET}}
    text = redact_text(json.dumps(value, indent=1))
    assert SECRET not in text
    parsed = json.loads(text)
    assert parsed["password"] == MASK and parsed["nested"]["api_key"] == MASK


def test_secret_names_end_in_a_secret_word() -> None:
    assert all(map(is_secret_name, ["password", "db_password", "PGPASSWORD", "token", "auth_token", "api-key", "apiKey",
                                    "secret", "client_secret", "credentials", "pwd", "requirepass", "masterauth",
                                    "pass", "user_pass"]))
    assert not any(map(is_secret_name, ["password_encryption", "tokenizer", "key", "user", "authSource", "secrets_dir",
                                        "bypass", "compass"]))


def test_redact_data_walks_dicts_lists_tuples_and_models_without_changing_them() -> None:
    op = OperationResult(kind="read", errors_sample=(f"ConnectionError: redis://:{SECRET}@h:1/0 refused",))
    value: dict[str, Any] = {"provisioner": {"mode": "external", "url": f"redis://:{SECRET}@h:1/0"},
             "settings": {"password": SECRET, "appendonly": "yes", "token": None, "retries": 3},
             "notes": (f"password={SECRET}",), "ops": [op]}
    redacted = redact_data(value)
    assert SECRET not in repr(redacted)
    assert redacted["settings"] == {"password": MASK, "appendonly": "yes", "token": None, "retries": 3}
    assert redacted["ops"][0].errors_sample == ("ConnectionError: redis://:***@h:1/0 refused",)
    assert SECRET in repr(value)  # the original is untouched
    assert isinstance(redacted["notes"], tuple)


def test_redact_data_returns_clean_values_themselves() -> None:
    clean = {"a": [1, "x", ("redis://h:1/0",)], "b": OperationResult(kind="read")}
    assert redact_data(clean) is clean


def test_a_redacting_stream_masks_what_is_written_and_passes_the_rest_on() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink)
    print(f"dbarena: redis at redis://:{SECRET}@h:1/0 is not reachable", file=stream)  # type: ignore[arg-type]
    stream.writelines([f"token={SECRET}\n"])
    stream.flush()
    assert sink.getvalue() == "dbarena: redis at redis://:***@h:1/0 is not reachable\ntoken=***\n"
    assert stream.isatty() is False


def test_redact_output_wraps_stdout_and_stderr_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    redact_output()
    redact_output()
    print(f"bolt://neo4j:{SECRET}@h")
    print(f"password={SECRET}", file=sys.stderr)
    assert isinstance(sys.stdout, RedactingStream) and sys.stdout.stream is out
    assert (out.getvalue(), err.getvalue()) == ("bolt://neo4j:***@h\n", "password=***\n")


def test_redact_output_can_leave_a_protocol_stdout_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    redact_output(stdout=False)
    assert sys.stdout is out and isinstance(sys.stderr, RedactingStream)
