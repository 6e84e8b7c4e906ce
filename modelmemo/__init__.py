"""modelmemo: decision memos that compare open- and closed-source AI models for a project."""

__version__ = "0.1.0"
