"""The benchmark: the secured registry against the plain one, and the program's own cost (`make bench`)."""
