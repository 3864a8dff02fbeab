"""Privacy: export, correction, erasure, retention, policy versions (policy clauses 3, 6 and 7)."""
