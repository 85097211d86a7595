"""Constants per data set: shapes, vocabulary, sources. Imports nothing else from the package."""
