"""kopf operators, one package per custom resource, on one shared `kit` and `runtime`."""
