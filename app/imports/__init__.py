"""File imports: units, account requests and the indicator catalogue."""
