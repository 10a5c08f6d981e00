"""Excel in (raw cells, no business logic) and Excel out."""
