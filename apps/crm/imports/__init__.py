"""CSV import of subscribers: ``parsing`` reads and checks the file (pure), ``services`` holds
the verbs (create, map, start, run in batches)."""
