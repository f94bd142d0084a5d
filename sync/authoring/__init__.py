"""County authoring: content written or imported for the county's folder (the folder stays the source)."""
