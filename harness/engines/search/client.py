"""The client shim: one set of calls over elasticsearch-py or opensearch-py, chosen by the server.

The library follows the server, probed once with `GET /` (plain HTTP, no client library):
opensearch-py for OpenSearch, elasticsearch-py 8 otherwise (it refuses servers that are not
Elastic's). Both take the same keyword calls, so `SearchClient` confines what differs to
construction and to the exception classes: `not_found` (a missing document is None, a missing
index an error) and `disconnect_errors` (the connection is gone; the runner reconnects).
Each library is imported only when chosen.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.errors import EngineUnavailable
from harness.redact import redact_url

TIMEOUT_S = 60.0
# A partial update is get-then-index on the server; concurrent updates of a hot key conflict.
# Retrying there gives last-writer-wins, as an SQL UPDATE does, without a client round trip.
UPDATE_RETRIES = 5
# Loopback probes must not go through an http_proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str) -> dict[str, Any]:
    """`GET /`: name, cluster and version of the server, without any client library.

    OSError (unreachable) and ValueError (not JSON) propagate: the adapter's `connect()` turns
    them into EngineUnavailable.
    """
    with _NO_PROXY.open(url.rstrip("/") + "/", timeout=10) as reply:
        info: dict[str, Any] = json.load(reply)
    if "version" not in info:
        raise EngineUnavailable(f"{redact_url(url)} answered GET / without a version: not Elasticsearch or OpenSearch")
    return info


def body_of(response: Any) -> dict[str, Any]:
    """The reply as a dict (elasticsearch-py wraps it in an ObjectApiResponse)."""
    return getattr(response, "body", response)  # type: ignore[no-any-return]


class SearchClient:
    """The calls the adapter makes, identical for both libraries; a missing document is None."""

    def __init__(self, url: str, distribution: str, timeout_s: float = TIMEOUT_S) -> None:
        """`timeout_s`: the longest one request may take (the library's request timeout), then ConnectionTimeout."""
        self.distribution = distribution
        # Both libraries log every failed request (a missing document is a 404): not inside the timer.
        for logger in ("opensearch", "elastic_transport"):
            logging.getLogger(logger).setLevel(logging.CRITICAL)
        if distribution == "opensearch":
            import opensearchpy
            from opensearchpy import helpers as os_helpers

            self.raw: Any = opensearchpy.OpenSearch(hosts=[url], timeout=timeout_s, max_retries=0, retry_on_timeout=False)
            self.library = "opensearch-py"
            self._bulk: Any = os_helpers.bulk
            self.not_found: type[Exception] = opensearchpy.NotFoundError
            # Retries are off: a failed call is an error the runner sees, then reconnects.
            self.disconnect_errors: tuple[type[BaseException], ...] = (opensearchpy.ConnectionError,)
            self.timeout_errors: tuple[type[BaseException], ...] = (opensearchpy.ConnectionTimeout,)
        else:
            import elasticsearch
            from elasticsearch import helpers as es_helpers

            self.raw = elasticsearch.Elasticsearch(url, request_timeout=timeout_s, max_retries=0, retry_on_timeout=False)
            self.library = "elasticsearch"
            self._bulk = es_helpers.bulk
            self.not_found = elasticsearch.NotFoundError
            self.disconnect_errors = (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout)
            self.timeout_errors = (elasticsearch.ConnectionTimeout,)

    def _unless_missing(self, call: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return body_of(call(**kwargs))
        except self.not_found as exc:
            if getattr(exc, "error", None) == "index_not_found_exception":
                raise
            return None

    def index(self, index: str, doc_id: str, document: Mapping[str, Any], refresh: str) -> dict[str, Any]:
        return body_of(self.raw.index(index=index, id=doc_id, body=document, refresh=refresh))

    def get(self, index: str, doc_id: str, source: Sequence[str] | None) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.get, index=index, id=doc_id, _source_includes=source)

    def update(self, index: str, doc_id: str, body: Mapping[str, Any], refresh: str) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.update, index=index, id=doc_id, body=body, refresh=refresh,
                                    retry_on_conflict=UPDATE_RETRIES)

    def delete(self, index: str, doc_id: str, refresh: str) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.delete, index=index, id=doc_id, refresh=refresh)

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return body_of(self.raw.search(index=index, body=body))

    def count(self, index: str) -> int:
        return int(body_of(self.raw.count(index=index))["count"])

    def bulk(self, actions: Iterable[dict[str, Any]], chunk: int) -> int:
        done, _ = self._bulk(self.raw, actions, chunk_size=max(chunk, 1), max_chunk_bytes=1 << 30)
        return int(done)

    def close(self) -> None:
        self.raw.close()
