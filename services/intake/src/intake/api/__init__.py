"""intake's HTTP routes, one module per area; ``intake.app`` includes them with their guards."""
