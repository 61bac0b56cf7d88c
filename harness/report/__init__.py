"""Reports: terminal tables, markdown, self-contained HTML."""
