"""The decision memo: the document (JSON contract and page-1 digest), what changed since the
last memo, rendering to HTML and PDF, the brand, and rendering limits."""
