"""Datasets the project writes itself (in the public layouts the bundles read) and the verified MNIST download."""
