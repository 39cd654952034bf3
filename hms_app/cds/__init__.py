"""Clinical decision support: pure functions (scores, plausibility limits, interaction rules). No database."""
