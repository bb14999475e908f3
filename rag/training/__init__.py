"""Training the answer checker (`rag.checker`): its data, held-out folds and the training loop."""
