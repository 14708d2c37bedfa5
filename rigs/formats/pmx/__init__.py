"""PMX 2.0 / 2.1: the reader, the writer and the binary layout they share."""
