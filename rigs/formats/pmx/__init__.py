"""PMX 2.0 / 2.1: the reader (and its physics records), the writer and the binary layout they share."""
