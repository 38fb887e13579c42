"""The ServiceRelease operator."""
