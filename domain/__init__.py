"""PerfBot domain: the council's words and rules, its storage and its use cases (no Teams here)."""
