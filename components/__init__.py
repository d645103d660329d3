"""Components of the image-registry Pulumi program."""
