"""The formula engine: KV-cache element formats (dtypes) and the generic sum of what an engine
answers (formulas)."""
