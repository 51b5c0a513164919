"""The Ola network: configuration, vision tower, speech encoders, projectors, loader.

Nothing here knows about files of the user or devices; it turns prompt ids and media tensors
(``ola_core.processing.inputs``) into input embeddings and runs the language model. Submodules are
imported directly (``from ola_core.model.loading import load_ola``) so that light users such as
the prompt builder do not pay for importing transformers' model code.
"""
