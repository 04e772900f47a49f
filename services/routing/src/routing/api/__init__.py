"""routing's HTTP routes, one module per area; each router admits one set of roles (see ``routing.app``)."""
