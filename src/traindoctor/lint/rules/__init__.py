"""The lint rules: every module here registers its checks with `@rule(code)` (see lint/registry.py)."""
