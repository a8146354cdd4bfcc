"""Demo mode: seed data and the demo inventory, assembled from what each integration offers."""
