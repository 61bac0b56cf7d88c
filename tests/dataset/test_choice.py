"""Weighted `choice` values: drawn in proportion to their weights, the same for the same seed, and
the same whether generated record by record or in batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from scipy.stats import chisquare

from harness.dataset.generate import RecordFactory
from harness.errors import SpecError
from harness.spec.loader import load_workload
from harness.spec.models import Entity

N = 50_000


def entity(status: dict[str, object]) -> Entity:
    return Entity.model_validate({"name": "accounts", "count": N, "key": "id",
                                  "fields": {"id": {"type": "int", "sequence": True},
                                             "status": {"type": "choice", **status}}})


def test_weighted_values_follow_their_weights_chi_square() -> None:
    weights = (0.7, 0.2, 0.08, 0.02)
    factory = RecordFactory(entity({"values": ["a", "b", "c", "d"], "weights": list(weights)}), 42)
    counts = Counter(factory.value("status", i) for i in range(N))
    observed = [counts[v] for v in "abcd"]
    expected = [w * N for w in weights]
    # H0: the draws follow the weights. At 4 values and 50,000 records, a 10% skew on "d" alone
    # would give chi-square ~ 10 (p ~ 0.02); the generator must not be rejected at 1%.
    assert chisquare(observed, expected).pvalue > 0.01, observed
    # and the unweighted draw is rejected against these weights (the test has power)
    uniform = RecordFactory(entity({"values": ["a", "b", "c", "d"]}), 42)
    flat = Counter(uniform.value("status", i) for i in range(N))
    assert chisquare([flat[v] for v in "abcd"], expected).pvalue < 1e-6


def test_weights_scale_freely_and_zero_weight_is_never_drawn() -> None:
    one = RecordFactory(entity({"values": ["on", "off", "never"], "weights": [9, 1, 0]}), 7)
    other = RecordFactory(entity({"values": ["on", "off", "never"], "weights": [0.9, 0.1, 0.0]}), 7)
    drawn = [one.value("status", i) for i in range(5000)]
    assert drawn == [other.value("status", i) for i in range(5000)]
    assert "never" not in drawn and 0.87 < drawn.count("on") / 5000 < 0.93


def test_deterministic_by_seed_and_batches_equal_records() -> None:
    spec = {"values": ["a", "b", "c"], "weights": [5, 3, 2]}
    a, b, c = (RecordFactory(entity(spec), seed) for seed in (42, 42, 43))
    assert [a.value("status", i) for i in range(2000)] == [b.value("status", i) for i in range(2000)]
    assert [a.value("status", i) for i in range(2000)] != [c.value("status", i) for i in range(2000)]
    batch = [record for chunk in a.batches(3000, 1000) for record in chunk]
    assert batch == [a.record(i) for i in range(3000)]


@pytest.mark.parametrize(("status", "said"), [
    ({"values": ["a", "b"], "weights": [1]}, "weights has 1 entries for 2 values"),
    ({"values": ["a", "b"], "weights": [0, 0]}, "not all zero"),
    ({"values": ["a", "b"], "weights": [1, -1]}, "zero or above"),
    ({"values": ["a", "b"], "weights": [1, 1], "cycle": True}, "remove weights or cycle"),
])
def test_bad_weights_are_refused_in_words(status: dict[str, object], said: str, tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "name": "w",
        "dataset": {"entities": [{"name": "accounts", "count": 10, "key": "id",
                                  "fields": {"id": {"type": "int", "sequence": True},
                                             "status": {"type": "choice", **status}}}]},
        "operations": [{"name": "read", "kind": "read", "entity": "accounts", "weight": 1}]}))
    with pytest.raises(SpecError) as caught:
        load_workload(path)
    assert len(caught.value.problems) == 1 and said in caught.value.problems[0], caught.value.problems
