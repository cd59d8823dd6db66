"""Scoring, pure: verdicts read from replies, recall, answer length, blind answers, coherence, paired statistics."""
