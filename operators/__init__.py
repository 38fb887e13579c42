"""kopf operators: one package per custom resource, each exporting `OPERATOR`, on `machinery`."""
