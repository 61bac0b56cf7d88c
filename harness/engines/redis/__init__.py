"""Redis: records as hashes, declared indexes as sets and sorted sets, commands built apart from sending."""
