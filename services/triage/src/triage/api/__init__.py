"""triage's HTTP routes, one module per area; ``triage.app`` includes them with their guards."""
