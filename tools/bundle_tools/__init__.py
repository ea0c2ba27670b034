"""The collection's tooling, which stays in the repository and never ships inside a bundle zip.

``registry`` finds the bundles and holds what the tooling needs of each; ``zoo`` packages, indexes and downloads
bundle zips (``signing``: the signed index it checks first); ``benchmark`` measures every bundle's speed; ``demo`` is
the README's main job; ``data`` writes the generated datasets (digits in the MNIST layout, synthetic DRIVE, LGG and
liver CTs) and downloads MNIST; ``metadata`` checks ``metadata.json`` against ``schemas/``; ``export`` compares a
TorchScript export with its eager network; ``bundle_cli`` runs ``python -m monai.bundle`` from Python. The command
lines in ``tools/`` are thin wrappers over these modules.
"""
