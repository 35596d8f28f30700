"""Model backends: how (image, prompt) pairs become text, or images become embeddings."""
