"""Operations: backup and restore (app.ops.backup)."""
