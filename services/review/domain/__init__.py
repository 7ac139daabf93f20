"""Review's domain: recommendations, formal review, judge assignment, scores, grades, publication."""
