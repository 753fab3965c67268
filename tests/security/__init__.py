"""Security corpora and fuzzing: the attacker's inputs, kept as tests (issue F)."""
