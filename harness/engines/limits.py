"""Result sizes every adapter uses when an operation gives no `limit`, defined once.

Every engine must return the same number of records for the same operation, or the
comparison measures different work. A scan's length comes with each call (`calls.Scan`),
drawn by the runner over [min_length, limit or SCAN_MAX_LENGTH] (`harness.spec.models.ScanOp`).
"""

from __future__ import annotations

SEARCH_LIMIT = 10  # hits of a relevance search without a limit (the search engines' default page)
FIND_LIMIT = 1000  # hits of a find or range without a limit where the engine must cap them (search engines;
#                    the others return every match, as the library's finds select few records)
LOAD_BATCH = 1000  # records per bulk-load call (COPY, insert_many, _bulk, pipeline, UNWIND, line protocol)
