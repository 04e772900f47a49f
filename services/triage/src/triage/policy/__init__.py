"""The triage policy: a lexicon (data) and an engine (plain Python) that turn a call into a decision."""
