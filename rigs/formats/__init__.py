"""Model file formats read into a `Model`: PMX, PMD, glTF / VRM, zips, texture files."""
