"""Model backends: how a batch of (image, prompt) pairs becomes text, or images become embeddings."""
