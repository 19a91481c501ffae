"""The dashboard and wallet pages: server-rendered HTML over the domain services."""
