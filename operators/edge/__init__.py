"""The EdgeNode operator."""
