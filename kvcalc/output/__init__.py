"""Output: rows rendered to tables and files (report), units for people (units), files written
whole or not at all (outfile), and the model-level reports (summary)."""
