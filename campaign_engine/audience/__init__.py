"""Who may be mailed: one CSV reader, contact and rep imports, segments and personas, exclusions, suppression, consent and privacy."""
