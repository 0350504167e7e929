"""The data layer: schemas and frame builders, columnar buffers, books, time and symbol parsing."""
