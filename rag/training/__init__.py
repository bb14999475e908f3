"""Training the answer checker (`rag.checker`): its data (gold pairs, question-answer pairs mined from
real documents), held-out folds and the training loop."""
