"""HTTP: JSON controllers, page routes, schemas. Thin: parse, one service call, return."""
