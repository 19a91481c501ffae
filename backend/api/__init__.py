"""HTTP wiring only: the app factory, error mapping, middleware. Nothing imports from here."""
