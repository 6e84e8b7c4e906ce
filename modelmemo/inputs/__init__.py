"""Requirement files in: the drop folder, reading and strict parsing, schema validation,
the typed requirements, watching the folder, and printable file names."""
