"""Pure Block Kit renderers: records in, blocks out. No database, no network."""
