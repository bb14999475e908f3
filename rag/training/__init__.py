"""Training data for the answer checker: question-answer pairs mined from real documents."""
