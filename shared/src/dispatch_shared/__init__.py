"""The contract and plumbing every dispatch service shares: events, topics, Kafka, database, HTTP."""
