"""Cross-cutting pieces every domain uses: settings, logging, errors, database."""
