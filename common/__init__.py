"""The runtime that the collection's bundle configs reference, imported as ``bundle_common`` and copied into every
bundle zip (the tooling, ``bundle_tools``, stays in the repository).

One concept per module: ``data`` reads the public dataset layouts and deals cases into splits and folds (``cache``:
the memory-checked training cache); ``transforms`` are the dictionary transforms MONAI lacks; ``prepare_batch`` the
trainer-side random warps of whole batches; ``networks`` loads weights and averages fold models; ``inferers`` adds flip
test-time augmentation; ``handlers`` are the training handlers (resumable checkpoint, NaN stop, out-of-fold member)
and the report writers; ``metrics`` the vessel, overlap and bootstrap figures; ``writers`` the atomic NIfTI writer;
``overlays`` and ``charts`` the pictures reports draw; ``errors`` one-line input errors and settings checks; ``io``
atomic writes; ``arrays`` tensor-or-array helpers.
"""

__version__ = "0.1.0"
