"""Embedded PostgreSQL and anvil for fresh machines: started on demand, stopped on exit."""
