"""Survey forms: the loader, the schema check, expressions and versions."""
