"""Result sizes every adapter uses when an operation gives no `limit`, defined once.

Every engine must return the same number of records for the same operation, or the
comparison measures different work.
"""

from __future__ import annotations

SCAN_LIMIT = 100  # records of a scan without a limit (YCSB's default maxscanlength)
SEARCH_LIMIT = 10  # hits of a relevance search without a limit (the search engines' default page)
FIND_LIMIT = 1000  # hits of a find or range without a limit where the engine must cap them (search engines;
#                    the others return every match, as the library's finds select few records)
LOAD_BATCH = 1000  # records per bulk-load call (COPY, insert_many, _bulk, pipeline, UNWIND, line protocol)
