"""The `cascade` command line."""
