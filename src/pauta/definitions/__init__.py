"""Task and flow definitions: decorators, options, parameter schemas, the run context."""
